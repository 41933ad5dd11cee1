// Package heap owns looking into a worker's memory: the watch after a
// switch, which samples every host's pm2 workers for a while and judges
// each one's series (with memtrend); and heap snapshots: every host's
// workers checked first (signal handled, disk space), then each worker's
// snapshot taken, downloaded and removed over the host's connection, one
// worker of a host at a time. The numbers come from the drain preload's
// memory report (pm2.Memory).
package heap
