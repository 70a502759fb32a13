# State of the compiled stopping rung system (see stopping.pyx).

from libc.stdint cimport int64_t

from scheduler._rungs._idmap cimport IdMap


cdef struct StoppingRung:
    # The rewards recorded at one rung, as a running order statistic.
    double* rewards        # record order, n values (for state_dict)
    double* heap           # capacity slots shared by two heaps:
                           #   lower: heap[0 .. n_lower), a max-heap of the lowest
                           #          n_lower rewards (heap[0] = the largest of them);
                           #   upper: heap[capacity - 1 - i], i < n - n_lower, a
                           #          max-heap of the NEGATED other rewards
                           #          (-heap[capacity - 1] = the smallest of them).
    Py_ssize_t n
    Py_ssize_t n_lower     # == lower_size(n, position): floor(index) + 1, or n
    Py_ssize_t capacity    # of both arrays
    double position        # numpy's quantile: percentile / 100


cdef class StoppingRungs:
    cdef Py_ssize_t num_rungs
    cdef bint maximize
    cdef int64_t* level_values
    cdef StoppingRung* rungs
    cdef IdMap tasks       # task id -> highest rung index recorded at
    cdef list _levels
    cdef list _quantiles
    cdef str _mode

    cdef void _release(self) noexcept
    cdef int _report(self, int64_t task_id, int64_t time, double reward,
                     Py_ssize_t skip_rungs) except -1 nogil
