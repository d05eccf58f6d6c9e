// Returning freed memory to the system.
#pragma once

namespace perturbfit {

// glibc keeps freed heap pages (most G-vectors are below its mmap threshold, which also
// rises after the first large free), so releasing gigabytes of per-condition or per-cell
// vectors does not lower the resident set; this returns every free page. Call it after a
// large release (a no-op without glibc).
void return_freed_memory();

}  // namespace perturbfit
