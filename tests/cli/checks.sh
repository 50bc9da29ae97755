# The checks the end-to-end scripts share (sourced by pull_test.sh and serve_test.sh, in their
# work directory): each failure is printed and counted in $failures; the script exits 1 at the end
# when any failed.
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
expect() {  # expect CODE "description" command...   (output in out.txt and err.txt)
  local code=$1 what=$2
  shift 2
  "$@" > out.txt 2> err.txt
  local rc=$?
  [ "$rc" -eq "$code" ] || { fail "$what: exit $rc, expected $code"; cat out.txt err.txt; }
}
contains() { grep -qF -- "$1" "${3:-out.txt}" || { fail "$2: lacks '$1'"; cat "${3:-out.txt}"; }; }  # contains TEXT WHAT [FILE]
lacks() { ! grep -qiF -- "$1" "${3:-out.txt}" || { fail "$2: has '$1'"; cat "${3:-out.txt}"; }; }  # lacks TEXT WHAT [FILE]
wait_for_port() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }  # a server's --port-file
