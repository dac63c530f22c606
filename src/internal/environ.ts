/**
 * Whether setenv(3) takes the variable: a name that is empty or holds `=`,
 * or a NUL in name or value, is `EINVAL`.
 */
export const isValidEnvVariable = (name: string, value: string): boolean =>
  name !== "" && !name.includes("=") && !name.includes("\0") && !value.includes("\0")
