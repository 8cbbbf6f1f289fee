# The libraries the build needs, each found or configure stops naming the Debian package that has it:
# CMake's own words name a module or a variable (OpenCL_INCLUDE_DIR, libtiff-4), and a missing zlib was
# said as a missing PNG. .ci/install-deps.sh installs every package the build and the tests need.
function(vggcl_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "vggcl needs ${what}, not found: on Debian 12, apt-get install ${package} "
                        "(.ci/install-deps.sh installs every package the build and the tests need; with --no-tests, "
                        "the build's alone)")
  endif()
endfunction()

find_package(OpenCL QUIET)
vggcl_require(OpenCL_FOUND "OpenCL's headers and ICD loader" "ocl-icd-opencl-dev opencl-headers")
find_package(CLBlast QUIET)
vggcl_require(CLBlast_FOUND "CLBlast" libclblast-dev)
find_package(PkgConfig QUIET)
vggcl_require(PKG_CONFIG_FOUND "pkg-config" pkg-config)
pkg_check_modules(CJSON QUIET IMPORTED_TARGET libcjson)
vggcl_require(CJSON_FOUND "cJSON (pkg-config's libcjson)" libcjson-dev)
pkg_check_modules(WEBP QUIET IMPORTED_TARGET libwebp libwebpdemux)
vggcl_require(WEBP_FOUND "libwebp and libwebpdemux" libwebp-dev)
pkg_check_modules(TIFF QUIET IMPORTED_TARGET libtiff-4)
vggcl_require(TIFF_FOUND "libtiff (pkg-config's libtiff-4)" libtiff-dev)
find_package(JPEG QUIET)
vggcl_require(JPEG_FOUND "libjpeg" libjpeg62-turbo-dev)
find_package(ZLIB QUIET) # (before PNG, which needs it; image_png_chunks.c inflates a PNG's text chunks itself)
vggcl_require(ZLIB_FOUND "zlib" zlib1g-dev)
find_package(PNG QUIET)
vggcl_require(PNG_FOUND "libpng" libpng-dev)
find_package(Threads REQUIRED)
