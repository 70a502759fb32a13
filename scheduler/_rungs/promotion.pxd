# State of the compiled promotion rung system (see promotion.pyx).

from libc.stdint cimport int64_t, uint8_t, uint32_t

from scheduler._rungs._idmap cimport IdMap


cdef struct PromotionRung:
    # The entries of one rung; an entry's index is its record sequence number.
    double* keys           # reward (mode "max") or -reward ("min"): larger is better
    int64_t* config_ids
    uint8_t* promoted
    uint32_t* split        # capacity slots shared by two heaps of entry indices:
                           #   top:  split[0 .. n_top), the best n_top entries, worst
                           #         on top (split[0] = the worst of them);
                           #   rest: split[capacity - 1 - i], i < n - n_top, the other
                           #         entries, best on top (split[capacity - 1]).
    uint32_t* waiting      # unpromoted entries, best on top (waiting[0])
    Py_ssize_t n
    Py_ssize_t n_top       # == k(n) = (n * level) // next_level
    Py_ssize_t capacity    # of keys, config_ids, promoted and split
    Py_ssize_t n_waiting
    Py_ssize_t waiting_capacity
    int64_t level          # r_j
    int64_t next_level     # r_{j+1}, or max_t for the last rung
    int64_t remainder      # (n * level) % next_level, so k(n+1) needs no multiplication
    Py_ssize_t min_entries # round(Fraction(next_level, level))


cdef class PromotionRungs:
    cdef Py_ssize_t num_rungs
    cdef bint maximize
    cdef int64_t max_t_value
    cdef int64_t* level_values
    cdef PromotionRung* rungs
    cdef IdMap milestones  # config id -> rung index of its next milestone (num_rungs: max_t)
    cdef list _levels
    cdef list _quantiles
    cdef object _max_t
    cdef str _mode

    cdef void _release(self) noexcept
    cdef int _record(self, Py_ssize_t rung_index, int64_t config_id, double reward,
                     Py_ssize_t slot) except -1 nogil
    cdef Py_ssize_t _promote(self, uint32_t* entry) noexcept nogil
