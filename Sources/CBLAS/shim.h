// OpenBLAS's cblas.h (Debian: libopenblas-dev) declares the CBLAS interface plus
// openblas_set_num_threads / openblas_get_corename / openblas_get_config.
#include <cblas.h>
