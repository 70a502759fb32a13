# Open-addressing hash table int64 -> int32 for the per-task / per-config maps.
#
# Slots are packed 12-byte (key, value) pairs; value -1 marks an empty slot, so
# values must be >= 0. Linear probing from a home slot chosen by the splitmix64
# finalizer of the key, scaled to the capacity with a multiply-shift (any capacity
# works, not only powers of two). The load factor stays <= 3/4 and the table grows
# by 3/2, so it costs 16..24 bytes per key. No deletion (the rungs never forget).
# Expected O(1) per lookup and insert.

from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcpy, memset

from scheduler._rungs._mem cimport release, resized


cdef packed struct IdSlot:
    int64_t key
    int32_t value


cdef struct IdMap:
    IdSlot* slots
    Py_ssize_t capacity
    Py_ssize_t count


cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    """The splitmix64 output finalizer: a bijection that scatters nearby keys."""
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return z ^ (z >> 31)


cdef inline Py_ssize_t idmap_home(const IdSlot* slots, Py_ssize_t capacity,
                                  int64_t key) noexcept nogil:
    return <Py_ssize_t>(((mix64(<uint64_t>key) >> 32) * <uint64_t>capacity) >> 32)


cdef inline Py_ssize_t idmap_probe(const IdSlot* slots, Py_ssize_t capacity,
                                   int64_t key) noexcept nogil:
    """The slot holding ``key``, or the empty slot where it would go."""
    cdef Py_ssize_t i = idmap_home(slots, capacity, key)
    while slots[i].value != -1 and slots[i].key != key:
        i += 1
        if i == capacity:
            i = 0
    return i


cdef inline Py_ssize_t idmap_find(const IdMap* m, int64_t key) noexcept nogil:
    return idmap_probe(m.slots, m.capacity, key)


cdef inline int32_t idmap_get(const IdMap* m, int64_t key) noexcept nogil:
    """The value of ``key``, or -1 if absent."""
    return m.slots[idmap_probe(m.slots, m.capacity, key)].value


cdef inline int idmap_init(IdMap* m, Py_ssize_t capacity) except -1 nogil:
    """An empty table with ``capacity`` (>= 1) slots; ``m`` must hold no table."""
    if capacity < 8:
        capacity = 8
    m.slots = <IdSlot*>resized(NULL, <size_t>capacity * sizeof(IdSlot))
    memset(m.slots, 0xFF, <size_t>capacity * sizeof(IdSlot))
    m.capacity = capacity
    m.count = 0
    return 0


cdef inline int idmap_copy(IdMap* m, const IdMap* source) except -1 nogil:
    """``m`` becomes a copy of ``source`` (same capacity, same slots); ``m`` must hold
    no table. O(capacity): one memcpy, no rehash."""
    m.slots = <IdSlot*>resized(NULL, <size_t>source.capacity * sizeof(IdSlot))
    memcpy(m.slots, source.slots, <size_t>source.capacity * sizeof(IdSlot))
    m.capacity = source.capacity
    m.count = source.count
    return 0


cdef inline void idmap_free(IdMap* m) noexcept nogil:
    release(m.slots)
    m.slots = NULL
    m.capacity = 0
    m.count = 0


cdef inline int idmap_reserve(IdMap* m, Py_ssize_t count) except -1 nogil:
    """Grow (rehash) so that ``count`` keys fit within load factor 3/4.

    Returns 1 if the table was rehashed (slot indices changed), else 0.
    """
    if count * 4 <= m.capacity * 3:
        return 0
    cdef Py_ssize_t capacity = m.capacity + m.capacity // 2
    if capacity * 3 < count * 4:
        capacity = count * 4 // 3 + 1
    if capacity > <Py_ssize_t>0xFFFFFFFF:
        with gil:
            raise OverflowError("an id map holds at most 3 * 2**30 keys")
    cdef IdSlot* slots = <IdSlot*>resized(NULL, <size_t>capacity * sizeof(IdSlot))
    memset(slots, 0xFF, <size_t>capacity * sizeof(IdSlot))
    cdef Py_ssize_t i, slot
    for i in range(m.capacity):
        if m.slots[i].value != -1:
            slot = idmap_probe(slots, capacity, m.slots[i].key)
            slots[slot].key = m.slots[i].key
            slots[slot].value = m.slots[i].value
    release(m.slots)
    m.slots = slots
    m.capacity = capacity
    return 1


cdef inline int idmap_set(IdMap* m, int64_t key, int32_t value) except -1 nogil:
    """Insert or update ``key`` (``value`` >= 0)."""
    cdef Py_ssize_t slot = idmap_find(m, key)
    if m.slots[slot].value == -1:
        if idmap_reserve(m, m.count + 1):
            slot = idmap_find(m, key)
        m.slots[slot].key = key
        m.count += 1
    m.slots[slot].value = value
    return 0


cdef inline int idmap_check(const IdMap* m, str what) except -1:
    """Raise AssertionError unless the table is consistent (O(capacity))."""
    cdef Py_ssize_t i
    cdef Py_ssize_t used = 0
    for i in range(m.capacity):
        if m.slots[i].value != -1:
            used += 1
            if m.slots[i].value < 0:
                raise AssertionError(f"{what} map: slot {i} holds a negative value")
            if idmap_probe(m.slots, m.capacity, m.slots[i].key) != i:
                raise AssertionError(f"{what} map: key {m.slots[i].key} is off its probe path")
    if used != m.count:
        raise AssertionError(f"{what} map: {used} slots used but the count is {m.count}")
    if m.count * 4 > m.capacity * 3:
        raise AssertionError(f"{what} map: load factor above 3/4")
    return 0
