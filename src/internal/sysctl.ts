/**
 * The file under /proc/sys of a sysctl key. Like sysctl(8), a key with a `/`
 * is taken as a path (so names holding dots, like VLAN interfaces, work) and
 * a key without one has its dots read as `/`. Undefined for a key that names
 * no file there (empty, `.` or `..` parts).
 */
export const sysctlPath = (key: string): string | undefined => {
  const relative = key.includes("/") ? key.replace(/^\/+/, "") : key.replaceAll(".", "/")
  const parts = relative.split("/")
  if (relative === "" || parts.some((part) => part === "" || part === "." || part === "..")) return undefined
  return `/proc/sys/${relative}`
}
