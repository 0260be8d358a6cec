#!/bin/sh
# Build a release artifact of devops-map, as the application's CI would:
#
#   app/build.sh VERSION [OUTDIR]
#
# writes OUTDIR/devops-map-VERSION.tar.gz (OUTDIR defaults to dist/ next to
# app/), a static linux binary under devops-map-VERSION/bin/, and
# OUTDIR/artifact.hcl, a variable file for tend with app_version, app_url
# and app_sha256:
#
#   tend plan -i environments/staging --var-file dist/artifact.hcl .
#
# app_url is $ARTIFACT_BASE_URL/devops-map-VERSION.tar.gz (default base:
# http://127.0.0.1:8000, where `python3 -m http.server -d dist 8000
# --bind 127.0.0.1` serves dist/). tend fetches the artifact once on the
# control host and streams it to the hosts over SSH, so the hosts never
# need to reach that address. In a real pipeline, upload the tar.gz to your
# artifact store and commit the three values to environments/*/vars/.
#
# The archive is reproducible: the same source and Go toolchain give the
# same sha256 (sorted names, fixed times and owners, gzip without a name).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 VERSION [OUTDIR]" >&2
	exit 2
fi
version=$1
case $version in
	*[!A-Za-z0-9._+~-]* | "") echo "$0: bad version '$version' (letters, digits and ._+~- only)" >&2; exit 2 ;;
esac
app=$(cd "$(dirname "$0")" && pwd)
out=${2:-$app/../dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
base=${ARTIFACT_BASE_URL:-http://127.0.0.1:8000}
goarch=${GOARCH:-$(go env GOARCH)}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
top=devops-map-$version
mkdir -p "$stage/$top/bin"
(cd "$app" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch go build -trimpath \
	-ldflags "-s -w -X main.version=$version" -o "$stage/$top/bin/devops-map" .)
printf '%s\n' "$version" > "$stage/$top/VERSION"

tarball=$out/devops-map-$version.tar.gz
tar -C "$stage" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	-cf - "$top" | gzip -9n > "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
sum=$(sha256sum "$tarball" | cut -d' ' -f1)

cat > "$out/artifact.hcl.tmp" <<VARS
# Written by app/build.sh: the release artifact of devops-map $version.
app_version = "$version"
app_url     = "$base/devops-map-$version.tar.gz"
app_sha256  = "$sum"
VARS
mv "$out/artifact.hcl.tmp" "$out/artifact.hcl"
echo "$tarball"
echo "sha256 $sum"
