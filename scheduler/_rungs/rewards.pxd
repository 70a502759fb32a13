# State of the compiled per-row rewards (see rewards.pyx).

from libc.stdint cimport int64_t


cdef class Rewards:
    cdef double* _value        # per row, NaN: none recorded
    cdef Py_ssize_t _nvalue    # rows with a slot in _value
    cdef int64_t* _order       # rows in the order first recorded
    cdef Py_ssize_t _norder
    cdef Py_ssize_t _corder    # capacity of _order

    cdef double _at(self, object row) noexcept
    cdef int set(self, Py_ssize_t row, double reward) except -1
