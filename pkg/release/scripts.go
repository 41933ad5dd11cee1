package release

import (
	_ "embed"
)

// The scripts every operation runs on a host: POSIX sh files in
// scripts/, linted by shellcheck (test/run.sh). Layout.cmd puts prelude
// first; it takes the deploy root and layoutNames, so a name of the layout
// is spelled once, here in Go.
var (
	//go:embed scripts/prelude.sh
	prelude string
	//go:embed scripts/ensure.sh
	ensureScript string
	//go:embed scripts/switch.sh
	switchScript string
	//go:embed scripts/record.sh
	recordScript string
	//go:embed scripts/state.sh
	stateScript string
	//go:embed scripts/lock-aside.sh
	lockAside string
	//go:embed scripts/lock.sh
	lockMain string
	//go:embed scripts/unlock.sh
	unlockMain string
	// lockScript and unlockScript are theirs after aside, which both
	// call.
	lockScript   = lockAside + lockMain
	unlockScript = lockAside + unlockMain
	//go:embed scripts/inuse.sh
	inUseScript string
	//go:embed scripts/remove.sh
	removeScript string
	//go:embed scripts/lease.sh
	leaseFns string
	//go:embed scripts/clean.sh
	cleanMain string
	//go:embed scripts/preflight.sh
	preflightMain string
	//go:embed scripts/base.sh
	baseFns string
	// cleanScript and preflightScript are theirs after lease.sh, whose
	// clean_incoming both call; preflight answers with a delta's base too
	// (base.sh).
	cleanScript     = leaseFns + cleanMain
	preflightScript = leaseFns + baseFns + preflightMain

	//go:embed scripts/receive-unpack.sh
	receiveUnpack string
	//go:embed scripts/receive-assemble.sh
	receiveAssemble string
	//go:embed scripts/receive-verify.sh
	receiveVerify string
	//go:embed scripts/receive-shared.sh
	receiveShared string
	//go:embed scripts/receive.sh
	receiveMain string
	// receiveScript is receive.sh after the functions it calls.
	receiveScript = leaseFns + receiveUnpack + receiveAssemble + receiveVerify + receiveShared + receiveMain
)

// layoutNames are the names of the layout prelude.sh gets after the
// root, in its order (root, releases, current, state, manifest, files,
// history, lock, incoming, removing, lease, beat, shared).
var layoutNames = []string{ReleasesDir, CurrentLink, StateDir, ManifestPath, FilesPath, HistoryFile, LockDir, IncomingPfx, removingPfx, leaseFile, heartbeatFile, SharedDir}

// removingPfx names a release being removed (releases/.removing-<id>-<pid>):
// renamed out of sight first, so no half-removed release is ever seen
// under its name.
const removingPfx = ".removing-"

// The files in an incoming folder (releases/.incoming-<id>-<rand>) that
// make its lease (lease.sh): who holds it (pid, boot id, start time), and
// the heartbeat the holder touches while it runs. Cleanup never removes
// an upload whose holder runs, nor one whose heartbeat is recent.
const (
	leaseFile     = "lease"
	heartbeatFile = "heartbeat"
)

// The files in the lock directory: the Holder (json), and the server's
// time of taking the lock (date +%s), the lock's age.
const (
	lockInfo  = "info"
	lockSince = "since"
)

// The members of the upload envelope (writeEnvelope), whose names
// receive.sh gets as arguments.
const (
	envPayload = "payload"
	envFiles   = "files.tsv.gz"
	envEdit    = "edit.gz"
	envDerive  = "derive.gz"
)
