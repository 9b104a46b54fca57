#!/usr/bin/env bash
# Refresh the vendored front-end libraries in flask_helpdesk/static/helpdesk/vendor/.
#
# Reproducible: installs the exact versions pinned below from the npm registry
# into a temporary directory (no lifecycle scripts run), copies the built
# browser files with the licence of every package bundled into them, and
# rewrites vendor/VENDORED.md. Run it after changing a pin, then commit the
# result (the helpdesk never loads anything from a CDN):
#
#     ./scripts/vendor.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# name@version of each vendored library (exact pins).
SOCKET_IO_CLIENT=4.8.4
QUILL=2.0.3

VENDOR=flask_helpdesk/static/helpdesk/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "vendor: npm install socket.io-client@$SOCKET_IO_CLIENT quill@$QUILL (in $work)"
echo '{"private": true}' > "$work/package.json"
npm install --prefix "$work" --no-save --ignore-scripts --no-audit --no-fund --silent \
    "socket.io-client@$SOCKET_IO_CLIENT" "quill@$QUILL"
modules=$work/node_modules

field() {  # package field
    node -p "require('$modules/$1/package.json').$2"
}

licence_file() {  # package -> path of its licence file
    local f
    for f in LICENSE LICENSE.md LICENSE.txt license license.md LICENCE; do
        if [ -f "$modules/$1/$f" ]; then echo "$modules/$1/$f"; return; fi
    done
    echo "vendor: $1 has no licence file" >&2
    return 1
}

# name, the package's dist files to copy, and the packages bundled into them
# (their licences travel with the build).
declare -A FILES=(
    [socket.io-client]="dist/socket.io.min.js"
    [quill]="dist/quill.js dist/quill.snow.css"
)
declare -A BUNDLED=(
    [socket.io-client]="engine.io-client engine.io-parser socket.io-parser @socket.io/component-emitter"
    [quill]="parchment quill-delta eventemitter3 lodash-es fast-diff"
)

rm -rf "$VENDOR"
mkdir -p "$VENDOR"
{
    echo "# Vendored front-end libraries"
    echo
    echo "Built files copied from the npm registry by \`scripts/vendor.sh\` (do not edit"
    echo "them by hand: change the pin in the script and run it again). Each directory"
    echo "holds the package's licence (\`LICENSE\`) and the licences of the packages"
    echo "bundled into its build (\`licenses/\`, taken from the versions npm resolves for"
    echo "the pinned release)."
    echo
    echo "| Name | Version | Licence | Files | Source | Bundled packages |"
    echo "|------|---------|---------|-------|--------|------------------|"
} > "$VENDOR/VENDORED.md"

for name in socket.io-client quill; do
    dest=$VENDOR/$name
    mkdir -p "$dest/licenses"
    copied=()
    for file in ${FILES[$name]}; do
        cp "$modules/$name/$file" "$dest/"
        copied+=("$(basename "$file")")
    done
    cp "$(licence_file "$name")" "$dest/LICENSE"
    bundled=()
    for dep in ${BUNDLED[$name]}; do
        [ -d "$modules/$dep" ] || { echo "vendor: $dep (bundled in $name) is missing" >&2; exit 1; }
        cp "$(licence_file "$dep")" "$dest/licenses/${dep//\//__}.LICENSE"
        bundled+=("$dep ($(field "$dep" license))")
    done
    version=$(field "$name" version)
    tarball="https://registry.npmjs.org/$name/-/$name-$version.tgz"
    files=$(printf '`%s` ' "${copied[@]}")
    deps=$(IFS=';'; echo "${bundled[*]}" | sed 's/;/, /g')
    echo "| $name | $version | $(field "$name" license) | ${files% } | $tarball" \
         "(\`${FILES[$name]}\`) | $deps |" >> "$VENDOR/VENDORED.md"
    echo "vendor: $name $version -> $dest (${copied[*]})"
done
