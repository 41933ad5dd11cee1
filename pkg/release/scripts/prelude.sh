# prelude.sh starts every script of package release (Layout.cmd puts it
# first): strict mode; the deploy root from $1, a leading ~ expanded (the
# root is quoted, so the shell would not); the layout's names from $2...
# as Go spells them (layoutNames, in this order; state is the state dir
# of the root and of each release, manifest and files are paths inside a
# release, lease and beat are files in an incoming folder, shared is the
# folder of the shared files); fail for messages on stderr. The script
# that follows sees its own arguments as $1...
set -eu
# shellcheck disable=SC2034 # the names are for the script that follows
root=$1 releases=$2 current=$3 state=$4 manifest=$5 files=$6 history=$7 lock=$8 incoming=$9 removing=${10} lease=${11} beat=${12} shared=${13}
shift 13
# shellcheck disable=SC2088 # a literal "~/" is what is expanded here
case $root in "~/"*) root=$HOME/${root#"~/"} ;; esac
fail() { printf '%s\n' "$*" >&2; exit 1; }
