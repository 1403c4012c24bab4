// Package netem is edgegate's userspace network emulator for benchmarks:
// this machine has no tc/netem, so a Link joins two network namespaces
// through a TUN device in each and forwards every IP packet between them
// in this process, applying per direction a delay with jitter, random loss,
// bursty Gilbert-Elliott loss and a rate limit with a bounded queue. TCP
// (WebSocket) and UDP (QUIC) therefore see the same impairment, which is
// the point of the weak-network benchmark.
//
// It owns: creating and removing its namespaces and TUN devices (root
// required), the forwarding loops and the impairment model (impair.go,
// deterministic for a given seed and clock, unit-tested without root).
//
// It must not touch: the edge or the client; they run inside the
// namespaces (Link.Exec, Link.Do) and know nothing of the emulation.
//
// Design decisions:
//   - Namespaces and addresses are configured with iproute2 (`ip -n NS
//     ...`): it is on every Debian machine, and what it does is readable
//     in the logs. The TUN devices are opened from a thread switched into
//     each namespace (setns), because a TUN device is created in the
//     namespace of the thread that creates it.
//   - Jitter never reorders packets (a packet leaves no earlier than the
//     one before it in the same direction), as on a real path where
//     reordering is rare; loss and delay are what FEC has to beat.
//   - Every namespace is named egnet-<pid>-<n>-a/b; Close removes them,
//     and CleanupStale removes those of dead processes, so an interrupted
//     run never leaves devices behind for the next one.
package netem
