#!/bin/sh
# Installs km, the odometer for AI agents, then wraps your MCP clients' servers with `km init`.
#
#   curl -fsSL <where this file is served>/install.sh | sh
#
# Settings (environment):
#   KM_PACKAGE        what to install: the npm package (default @kilometers/km) or a packed tarball's path
#   KM_INSTALL_FLAGS  extra flags for npm install -g (e.g. --ignore-scripts: SQLite is not built, so no km serve)
#   KM_NO_INIT=1      install only; run km init yourself later
set -eu

PACKAGE="${KM_PACKAGE:-@kilometers/km}"
say() { printf 'km install: %s\n' "$*"; }
fail() { printf 'km install: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || fail "Node.js is not installed: km needs Node.js 20 or later (https://nodejs.org)."
command -v npm >/dev/null 2>&1 || fail "npm is not on the PATH: it comes with Node.js; install Node.js 20 or later."
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "Node.js $(node -v) is too old: km needs Node.js 20 or later."

say "installing $PACKAGE with npm (better-sqlite3, for km serve, may compile on this machine)"
# npm 11 runs a dependency's install script only when allowed: better-sqlite3 builds km serve's database.
# shellcheck disable=SC2086
npm install -g --allow-scripts=better-sqlite3 ${KM_INSTALL_FLAGS:-} "$PACKAGE" || fail "npm install -g $PACKAGE failed (see above)."

km_bin="$(npm prefix -g)/bin/km"
[ -x "$km_bin" ] || km_bin=$(command -v km || true)
[ -n "$km_bin" ] && [ -x "$km_bin" ] || fail "km was installed but is not found: add \"$(npm prefix -g)/bin\" to your PATH."
say "installed $("$km_bin" --version) at $km_bin"
# better-sqlite3 may have failed to build (no compiler, no headers) without failing npm: say so now, not at km serve.
sqlite_ok=1
node -e 'const { dirname } = require("path"); const km = require("fs").realpathSync(process.argv[1]); const Database = require(require.resolve("better-sqlite3", { paths: [dirname(km)] })); new Database(":memory:").close();' "$km_bin" >/dev/null 2>&1 || sqlite_ok=0
[ "$sqlite_ok" = 1 ] || say "note: better-sqlite3 did not build here, so km serve (the dashboard) cannot run; wrapping works. km doctor says why; reinstall with a C++ toolchain to fix it."
case ":$PATH:" in
  *":$(dirname "$km_bin"):"*) ;;
  *) say "note: $(dirname "$km_bin") is not on your PATH; add it so that MCP clients find km." ;;
esac

if [ "${KM_NO_INIT:-}" = 1 ]; then
  say "done. Next: km init (wraps your MCP clients' servers), then km serve (the dashboard)."
  exit 0
fi
# km init asks before it writes: from `curl | sh`, stdin is the script, so it asks on the terminal.
if [ -t 0 ]; then
  "$km_bin" init
elif [ -r /dev/tty ] && (: </dev/tty) 2>/dev/null; then
  "$km_bin" init </dev/tty
else
  "$km_bin" init --dry-run
  say "no terminal to ask on: run km init to write these changes."
fi
if [ "$sqlite_ok" = 1 ]; then say "done. Start the dashboard with: km serve"; else say "done, without km serve (see the note above)."; fi
