// Prints a value that a terminal would show in colour on stdout and exits
// with 1: the guest's stdout is a terminal (a console), so only the
// environment the runner gives the init (NO_COLOR for a piped stdout) keeps
// the colours out.
import { Effect } from "effect"
import { HostPipe, Init, Sysinit } from "effect-sysinit"

Init.main(HostPipe.withStdoutHostPipe, Effect.sync(() => console.log(14, { a: "b" })), Sysinit.setExitCode(1))
