# Growable C arrays for the rung kernels.
#
# Memory comes from PyMem_Raw* (thread-safe without the GIL, and visible to
# tracemalloc). Arrays grow by 3/2, which keeps the slack per recorded entry
# small (at most half the payload) while appends stay amortized O(1).

from cpython.mem cimport PyMem_RawFree, PyMem_RawRealloc


cdef inline Py_ssize_t grown_capacity(Py_ssize_t capacity, Py_ssize_t needed) noexcept nogil:
    """The capacity to grow to: capacity * 3 / 2, at least 8 and at least ``needed``."""
    cdef Py_ssize_t grown = capacity + capacity // 2
    if grown < 8:
        grown = 8
    if grown < needed:
        grown = needed
    return grown


cdef inline void* resized(void* block, size_t nbytes) except NULL nogil:
    """``block`` reallocated to ``nbytes`` (> 0); MemoryError leaves ``block`` valid."""
    cdef void* grown = PyMem_RawRealloc(block, nbytes)
    if grown == NULL:
        with gil:
            raise MemoryError(f"cannot allocate {nbytes} bytes for a rung")
    return grown


cdef inline void release(void* block) noexcept nogil:
    PyMem_RawFree(block)
