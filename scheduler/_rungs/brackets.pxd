# State of the compiled bracket sampler (see brackets.pyx).

from libc.stdint cimport uint64_t


cdef class BracketSampler:
    cdef uint64_t state            # splitmix64 state
    cdef Py_ssize_t _num_brackets
    cdef double* cumulative        # sequential partial sums of the probabilities
    cdef list _levels
    cdef object _max_t
    cdef object _seed
    cdef list _probabilities

    cdef Py_ssize_t _sample(self) noexcept nogil
