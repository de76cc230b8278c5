# Cross-building crigate for arm64 gateways on an amd64 Debian 12 machine
# with Debian's multiarch packages (scripts/cross-build.sh, scripts/install-deps.sh
# --arm64): the compiler from crossbuild-essential-arm64, the libraries from the
# :arm64 -dev packages in /usr/lib/aarch64-linux-gnu, and protoc and
# grpc_cpp_plugin from the build machine's /usr/bin.
#
#   cmake -S . -B build-arm64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=scripts/toolchains/aarch64-linux-gnu.cmake
#
# It sets what debhelper's cmake buildsystem passes itself when DEB_HOST_ARCH
# is arm64 (system name, processor, compilers, pkg-config), plus the emulator
# the tests run under; anything else the cross-build needs is in the project's
# CMakeLists.txt, so `dpkg-buildpackage -a arm64` works without this file.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Multiarch: no sysroot. The target's headers and libraries sit beside the
# build machine's (/usr/include/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu),
# which CMake searches once the compiler tells it the library architecture;
# programs (protoc, grpc_cpp_plugin, the gRPC config's imported plugin at
# /usr/bin) are the build machine's.
#
# pkgconf's aarch64-linux-gnu-pkg-config reads only the arm64 .pc files.
set(PKG_CONFIG_EXECUTABLE /usr/bin/aarch64-linux-gnu-pkg-config CACHE FILEPATH
    "pkg-config for the target")

# ctest and gtest_discover_tests (at build time) run the arm64 test programs
# under qemu-user, without binfmt_misc. libc6:arm64 puts the dynamic loader at
# /lib/ld-linux-aarch64.so.1 and the libraries in /usr/lib/aarch64-linux-gnu,
# so qemu needs no -L prefix.
find_program(CRIGATE_QEMU_AARCH64 qemu-aarch64-static qemu-aarch64)
if(CRIGATE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${CRIGATE_QEMU_AARCH64})
endif()
