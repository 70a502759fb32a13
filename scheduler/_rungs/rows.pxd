# State of the compiled packed rows (see rows.pyx).

from libc.stdint cimport int64_t, uint8_t, uint64_t


cdef class FlatRows:
    cdef list _columns
    cdef tuple _names
    cdef Py_ssize_t _ncols
    cdef Py_ssize_t _width
    cdef bint _index_on
    cdef int* _kinds
    cdef double* _lo
    cdef double* _hi
    cdef double* _end_a
    cdef double* _end_b
    cdef uint8_t* _log
    cdef int64_t* _ilo
    cdef int64_t* _ihi
    cdef list _forms           # per column: forms dict (choices) or None
    cdef list _decoded         # per column: decoded list (choices) or None
    cdef char* _blob
    cdef Py_ssize_t _count
    cdef Py_ssize_t _capacity  # rows
    cdef int64_t* _slots       # row + 1 per slot, 0: empty
    cdef Py_ssize_t _nslots
    cdef Py_ssize_t _nindexed
    cdef uint64_t* _hashes     # per row, its hash (rows not indexed: unused)
    cdef uint8_t* _isindexed   # per row, 1 if in the index

    cdef bint _pack_into(self, object config, char* out) except -1
    cdef const char* _packed_arg(self, object packed) except NULL
    cdef int _check_choices(self, const char* row) except -1
    cdef int _require_index(self) except -1
    cdef Py_ssize_t _probe(self, const char* row, uint64_t h, Py_ssize_t* slot) noexcept
    cdef Py_ssize_t _push(self, const char* row, uint64_t h, bint indexed) except -1
    cdef int _insert(self, Py_ssize_t r, Py_ssize_t slot) except -1
    cdef int _grow(self) except -1
    cdef Py_ssize_t _append_row(self, const char* row) except -1
    cdef object _intern_row(self, const char* row)
    cdef int _check_row(self, object row) except -1
