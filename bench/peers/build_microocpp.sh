#!/usr/bin/env bash
# Build MicroOcpp's Linux program (MicroOcppSimulator) for bench/peers.py, out of /work/main.
#
# Sources (GitHub; the simulator's pinned submodule commits, except mbedtls and the web app, not needed):
#   matth-x/MicroOcppSimulator  2cb07cdbe53954a694a29336ab31eac2d2b48673  (2024-11-03, "update dependencies")
#   matth-x/MicroOcpp           4b89f4649d65c83cc559e4cc7c65f430db482217  -> lib/MicroOcpp
#   matth-x/MicroOcppMongoose   e2282976eed4b98e200e5987f2dded5313902cab  -> lib/MicroOcppMongoose
#   cesanta/mongoose            97296934ab594241ba2489f018a21779882a7936  -> lib/mongoose (mongoose.c/.h only)
#   bblanchon/ArduinoJson       b350a9664370f37654a406d75f99b1e5b3a2d637  -> lib/ArduinoJson
#
# Usage: build_microocpp.sh [PEER_DIR] [SOURCE_DIR]
#   PEER_DIR    where to build (default /work/peers); the program lands in PEER_DIR/microocpp/mo_simulator
#   SOURCE_DIR  an extracted MicroOcppSimulator tree with the four lib/ directories filled in (a GitHub
#               snapshot has no submodules). Default PEER_DIR/src/MicroOcppSimulator. When it is missing and
#               MIRROR (default /work/.mirror) holds bare clones named owner+name/repo, it is extracted from
#               them at the commits above; otherwise clone the five repos, check out the commits, and copy.
#
# The build differs from the simulator's CMakeLists in what the bench needs only: no TLS (ws:// on
# 127.0.0.1: MO_ENABLE_MBEDTLS=0, MG_TLS=MG_TLS_NONE, an empty mbedtls/platform.h so main.cpp compiles
# without mbedtls), no traffic dump (MO_TRAFFIC_OUT off), MicroOcpp's debug output at errors only and
# mongoose's log compiled out (printing would dominate the latency), -O2 Release.
set -euo pipefail

PEER_DIR=${1:-/work/peers}
SRC=${2:-$PEER_DIR/src/MicroOcppSimulator}
MIRROR=${MIRROR:-/work/.mirror}
OUT=$PEER_DIR/microocpp
JOBS=${JOBS:-2}

extract() {  # extract REPO_DIRNAME COMMIT DEST [PATH...]
    local repo=$1 commit=$2 dest=$3; shift 3
    mkdir -p "$dest"
    git --git-dir="$MIRROR/$repo/repo" archive "$commit" "$@" | tar -x -C "$dest"
}

if [ ! -f "$SRC/src/main.cpp" ]; then
    [ -d "$MIRROR/matth-x+MicroOcppSimulator/repo" ] || { echo "no source in $SRC and no mirror in $MIRROR" >&2; exit 2; }
    rm -rf "$SRC"
    extract matth-x+MicroOcppSimulator 2cb07cdbe53954a694a29336ab31eac2d2b48673 "$SRC"
    extract matth-x+MicroOcpp 4b89f4649d65c83cc559e4cc7c65f430db482217 "$SRC/lib/MicroOcpp"
    extract matth-x+MicroOcppMongoose e2282976eed4b98e200e5987f2dded5313902cab "$SRC/lib/MicroOcppMongoose"
    extract cesanta+mongoose 97296934ab594241ba2489f018a21779882a7936 "$SRC/lib/mongoose" mongoose.c mongoose.h LICENSE
    extract bblanchon+ArduinoJson b350a9664370f37654a406d75f99b1e5b3a2d637 "$SRC/lib/ArduinoJson"
fi
for d in MicroOcpp MicroOcppMongoose mongoose ArduinoJson; do
    [ -n "$(ls -A "$SRC/lib/$d" 2>/dev/null)" ] || { echo "$SRC/lib/$d is empty (fetch the submodule)" >&2; exit 2; }
done

mkdir -p "$OUT/cmake/stub/mbedtls"
: > "$OUT/cmake/stub/mbedtls/platform.h"  # main.cpp includes it; MBEDTLS_PLATFORM_MEMORY stays undefined
cat > "$OUT/cmake/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.15)
project(mo_simulator_bench CXX C)
set(CMAKE_CXX_STANDARD 11)
set(CMAKE_CXX_STANDARD_REQUIRED True)
set(SRC "$SRC")
add_compile_definitions(
    MO_PLATFORM=MO_PLATFORM_UNIX MO_NUMCONNECTORS=3 MO_DBG_LEVEL=MO_DL_ERROR
    "MO_FILENAME_PREFIX=\"./mo_store/\"" MO_ENABLE_V201=1 MO_ENABLE_MBEDTLS=0
    MO_ENABLE_TIMESTAMP_MILLISECONDS=1 MO_MG_USE_VERSION=MO_MG_V715
    MG_TLS=MG_TLS_NONE MG_ENABLE_LOG=0)
add_subdirectory(\${SRC}/lib/MicroOcpp MicroOcpp EXCLUDE_FROM_ALL)
add_subdirectory(\${SRC}/lib/MicroOcppMongoose MicroOcppMongoose EXCLUDE_FROM_ALL)
add_executable(mo_simulator \${SRC}/src/evse.cpp \${SRC}/src/main.cpp \${SRC}/src/api.cpp
               \${SRC}/src/net_mongoose.cpp \${SRC}/lib/mongoose/mongoose.c)
target_include_directories(mo_simulator PUBLIC \${SRC}/lib/ArduinoJson/src \${SRC}/lib/mongoose
                           \${CMAKE_CURRENT_SOURCE_DIR}/stub)
target_compile_definitions(mo_simulator PUBLIC MO_NETLIB=MO_NETLIB_MONGOOSE)
target_link_libraries(mo_simulator PUBLIC MicroOcpp MicroOcppMongoose)
CMAKE

cmake -S "$OUT/cmake" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log"
cmake --build "$OUT/build" --target mo_simulator -j "$JOBS"
cp "$OUT/build/mo_simulator" "$OUT/mo_simulator"
echo "built $OUT/mo_simulator"
