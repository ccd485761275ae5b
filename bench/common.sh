# Sourced by the benchmarks: the release build with the Swift runtime
# linked in, as one would ship it (it saves ~8 ms of dynamic loading per
# process), in $bin, and a scratch folder in $work removed at exit.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=(swift build -c release --static-swift-stdlib --scratch-path .build-release-static)
"${build[@]}" --product sockscript >/dev/null
bin=$("${build[@]}" --show-bin-path)/sockscript
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
