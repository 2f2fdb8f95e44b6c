// libpng's simplified API (png.h; Debian: libpng-dev) and libjpeg-turbo's TurboJPEG API
// (turbojpeg.h; Debian: libturbojpeg0-dev). Both report errors through return codes and
// message strings, so no setjmp/longjmp reaches Swift.
#include <png.h>
#include <turbojpeg.h>
