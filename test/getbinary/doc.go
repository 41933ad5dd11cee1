// Package getbinary tests actions/_lib/get-binary.sh, the script every
// action runs to get its next-deploy binary, and scripts/release-sign.sh,
// which signs what it trusts: the real scripts under bash, against fake
// GitHub release downloads on 127.0.0.1 (no network), with throwaway
// ssh-keygen keys. It has no code outside its tests.
//
// The trust root of get-binary.sh is the release-signers file next to it,
// never an environment variable, so the tests copy the script into an action
// tree of their own next to a signers file holding their key.
package getbinary
