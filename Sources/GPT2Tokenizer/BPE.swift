/// The merge rules as a hash table from a pair of token ids to the merge's rank and result.
///
/// Open addressing with linear probing over a power-of-two table; a pair `(left, right)` is the
/// key `left << 32 | right`, and the value packs `rank << 32 | mergedID`, so that comparing two
/// values compares ranks first. A pair with no rule looks up to `BPEMergeTable.noMerge`.
struct BPEMergeTable: Sendable {
    static let noMerge = UInt64.max
    private static let emptyKey = UInt64.max

    /// Key and value side by side, so that a probe touches one cache line.
    struct Slot: Sendable {
        var key: UInt64
        var value: UInt64
    }

    private(set) var slots: [Slot]
    let shift: UInt64

    /// `rules[rank] = (left, right, merged)`; a pair listed twice keeps its last rank, as the
    /// reference implementations (a dictionary built from the list) do.
    init(rules: [(left: Int32, right: Int32, merged: Int32)]) {
        var capacity = 16
        var bits: UInt64 = 4
        while capacity < rules.count * 2 { capacity <<= 1; bits += 1 }
        slots = [Slot](repeating: Slot(key: BPEMergeTable.emptyKey, value: BPEMergeTable.noMerge), count: capacity)
        shift = 64 - bits
        let mask = capacity - 1
        for (rank, rule) in rules.enumerated() {
            let key = UInt64(UInt32(bitPattern: rule.left)) << 32 | UInt64(UInt32(bitPattern: rule.right))
            var slot = Int(truncatingIfNeeded: BPEMergeTable.hash(key) >> shift)
            while slots[slot].key != BPEMergeTable.emptyKey && slots[slot].key != key { slot = (slot + 1) & mask }
            slots[slot] = Slot(key: key, value: UInt64(rank) << 32 | UInt64(UInt32(bitPattern: rule.merged)))
        }
    }

    @inline(__always)
    static func hash(_ key: UInt64) -> UInt64 {
        (key ^ (key >> 29)) &* 0x9E37_79B9_7F4A_7C15
    }

    /// Borrowed view of the table for the inner loop.
    struct View {
        let slots: UnsafePointer<Slot>
        let shift: UInt64
        let mask: Int

        /// `rank << 32 | mergedID` for the pair, or `noMerge`.
        @inline(__always)
        func lookup(_ left: Int32, _ right: Int32) -> UInt64 {
            let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
            var slot = Int(truncatingIfNeeded: BPEMergeTable.hash(key) >> shift)
            while true {
                let s = slots[slot]
                if s.key == key { return s.value }
                if s.key == BPEMergeTable.emptyKey { return BPEMergeTable.noMerge }
                slot = (slot + 1) & mask
            }
        }
    }

    func withView<R>(_ body: (View) throws -> R) rethrows -> R {
        try slots.withUnsafeBufferPointer { s in
            try body(View(slots: s.baseAddress!, shift: shift, mask: s.count - 1))
        }
    }
}

/// The pieces that are one whole token: every vocabulary token whose own bytes merge back into
/// exactly that token (for GPT-2, all of them). Looking a piece up here answers most English
/// words without merging. Checked at load time, so it is exact for any vocabulary. Immutable,
/// hence shared by all calls without a lock.
struct BPEWholeTokenTable: Sendable {
    /// `hash & ~idMask | (id + 1)`; 0 is an empty slot.
    private(set) var slots: [UInt64]
    static let idBits: UInt64 = 25
    static let idMask: UInt64 = (1 << idBits) - 1

    /// - Parameters:
    ///   - tokenBytes, tokenOffsets: the bytes of every token.
    ///   - candidates: ids to consider (non-literal tokens of two bytes or more).
    ///   - mergesTo: whether BPE on the token's own bytes gives back exactly that one token.
    init(tokenBytes: [UInt8], tokenOffsets: [Int], candidates: [Int], mergesTo: (Int) -> Bool) {
        var capacity = 16
        while capacity < candidates.count * 2 { capacity <<= 1 }
        var slots = [UInt64](repeating: 0, count: capacity)
        let mask = capacity - 1
        tokenBytes.withUnsafeBufferPointer { bytes in
            for id in candidates where mergesTo(id) {
                let start = tokenOffsets[id]
                let h = BPEWordCache.hash(bytes.baseAddress! + start, tokenOffsets[id + 1] - start)
                var slot = Int(truncatingIfNeeded: h >> 40) & mask
                while slots[slot] != 0 { slot = (slot + 1) & mask }
                slots[slot] = h & ~BPEWholeTokenTable.idMask | UInt64(id + 1)
            }
        }
        self.slots = slots
    }

    struct View {
        let slots: UnsafePointer<UInt64>
        let mask: Int
        let tokenBytes: UnsafePointer<UInt8>
        let tokenOffsets: UnsafePointer<Int>

        /// The id of the token whose bytes are `p[0..<n]` (hash `h` from `BPEWordCache.hash`), or -1.
        @inline(__always)
        func lookup(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int {
            var slot = Int(truncatingIfNeeded: h >> 40) & mask
            let tag = h & ~BPEWholeTokenTable.idMask
            while true {
                let s = slots[slot]
                if s == 0 { return -1 }
                if s & ~BPEWholeTokenTable.idMask == tag {
                    let id = Int(s & BPEWholeTokenTable.idMask) - 1
                    let start = tokenOffsets[id]
                    if tokenOffsets[id + 1] - start == n && bytesEqual(tokenBytes + start, p, n) { return id }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    func withView<R>(tokenBytes: UnsafePointer<UInt8>, tokenOffsets: UnsafePointer<Int>, _ body: (View) throws -> R) rethrows -> R {
        try slots.withUnsafeBufferPointer { s in
            try body(View(slots: s.baseAddress!, mask: s.count - 1, tokenBytes: tokenBytes, tokenOffsets: tokenOffsets))
        }
    }
}

/// Whether `a[0..<n] == b[0..<n]`, eight bytes at a time.
@inline(__always)
func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// Applies the merge rules to one piece: start from one token per byte, then repeatedly merge
/// the adjacent pair with the lowest rank (the leftmost one among equals) until no rule applies.
/// This is the Hugging Face / original GPT-2 algorithm.
struct BPEMerger {
    /// Pieces longer than this (in bytes) use the heap, whose cost grows as n log n rather than n².
    static let heapThreshold = 128

    let merges: BPEMergeTable.View
    /// Token id of each byte value.
    let byteTokens: UnsafePointer<Int32>

    /// Merges `bytes[0..<n]` (n ≥ 1) into `ids`, scratch `pairs` of capacity n; returns the token count.
    @inline(__always)
    func merge(_ bytes: UnsafePointer<UInt8>, _ n: Int,
               ids: UnsafeMutablePointer<Int32>, pairs: UnsafeMutablePointer<UInt64>) -> Int {
        if n > BPEMerger.heapThreshold {
            return mergeWithHeap(bytes, n, ids: ids)
        }
        return mergeQuadratic(bytes, n, ids: ids, pairs: pairs)
    }

    /// The direct loop, fastest for short pieces: scan all pairs for the lowest rank, merge, repeat.
    @inline(__always)
    func mergeQuadratic(_ bytes: UnsafePointer<UInt8>, _ n: Int,
                        ids: UnsafeMutablePointer<Int32>, pairs: UnsafeMutablePointer<UInt64>) -> Int {
        for i in 0..<n { ids[i] = byteTokens[Int(bytes[i])] }
        if n == 1 { return 1 }
        // pairs[i] is the rule for (ids[i], ids[i + 1]).
        for i in 0..<(n - 1) { pairs[i] = merges.lookup(ids[i], ids[i + 1]) }
        var count = n
        while count > 1 {
            var best = pairs[0]
            var at = 0
            var i = 1
            while i < count - 1 {
                if pairs[i] < best { best = pairs[i]; at = i }
                i += 1
            }
            if best == BPEMergeTable.noMerge { break }
            ids[at] = Int32(truncatingIfNeeded: best)
            // Remove ids[at + 1] and pairs[at + 1].
            let tail = count - at - 2
            // Pieces are short: a plain loop beats a call to memmove.
            var k = 0
            while k < tail {
                ids[at + 1 + k] = ids[at + 2 + k]
                k += 1
            }
            k = 0
            while k < tail - 1 {
                pairs[at + 1 + k] = pairs[at + 2 + k]
                k += 1
            }
            count -= 1
            if at > 0 { pairs[at - 1] = merges.lookup(ids[at - 1], ids[at]) }
            if at < count - 1 { pairs[at] = merges.lookup(ids[at], ids[at + 1]) }
        }
        return count
    }

    /// Same result as the quadratic loop, for long pieces: the symbols form a linked list and
    /// candidate pairs sit in a binary min-heap keyed by (rank, position); stale entries are
    /// skipped when popped. Writes the tokens to `ids` (capacity n) and returns their count.
    func mergeWithHeap(_ bytes: UnsafePointer<UInt8>, _ n: Int, ids: UnsafeMutablePointer<Int32>) -> Int {
        // Layout: sym[n] (Int32), next[n] (Int32), prev[n] (Int32), heap[3n] (UInt64).
        let sym = UnsafeMutablePointer<Int32>.allocate(capacity: 3 * n)
        defer { sym.deallocate() }
        let next = sym + n
        let prev = sym + 2 * n
        let heap = UnsafeMutablePointer<UInt64>.allocate(capacity: 3 * n)
        defer { heap.deallocate() }
        var heapCount = 0

        @inline(__always) func push(_ key: UInt64) {
            var i = heapCount
            heapCount += 1
            while i > 0 {
                let parent = (i - 1) >> 1
                if heap[parent] <= key { break }
                heap[i] = heap[parent]
                i = parent
            }
            heap[i] = key
        }
        @inline(__always) func pop() -> UInt64 {
            let top = heap[0]
            heapCount -= 1
            let last = heap[heapCount]
            var i = 0
            while true {
                var child = 2 * i + 1
                if child >= heapCount { break }
                if child + 1 < heapCount, heap[child + 1] < heap[child] { child += 1 }
                if heap[child] >= last { break }
                heap[i] = heap[child]
                i = child
            }
            if heapCount > 0 { heap[i] = last }
            return top
        }

        for i in 0..<n {
            sym[i] = byteTokens[Int(bytes[i])]
            next[i] = Int32(i + 1)
            prev[i] = Int32(i - 1)
        }
        // Heap keys: rank << 32 | position of the pair's left symbol.
        for i in 0..<(n - 1) {
            let rule = merges.lookup(sym[i], sym[i + 1])
            if rule != BPEMergeTable.noMerge { push(rule & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
        }
        while heapCount > 0 {
            let key = pop()
            let at = Int(key & 0xFFFF_FFFF)
            let rank = key >> 32
            // Alive symbols have sym >= 0; merged-away ones are set to -1.
            guard sym[at] >= 0 else { continue }
            let right = Int(next[at])
            guard right < n else { continue }
            let rule = merges.lookup(sym[at], sym[right])
            guard rule != BPEMergeTable.noMerge, rule >> 32 == rank else { continue }
            sym[at] = Int32(truncatingIfNeeded: rule)
            sym[right] = -1
            let after = Int(next[right])
            next[at] = Int32(after)
            if after < n { prev[after] = Int32(at) }
            let before = Int(prev[at])
            if before >= 0 {
                let r = merges.lookup(sym[before], sym[at])
                if r != BPEMergeTable.noMerge { push(r & 0xFFFF_FFFF_0000_0000 | UInt64(before)) }
            }
            if after < n {
                let r = merges.lookup(sym[at], sym[after])
                if r != BPEMergeTable.noMerge { push(r & 0xFFFF_FFFF_0000_0000 | UInt64(at)) }
            }
        }
        var count = 0
        var i = 0
        while i < n {
            ids[count] = sym[i]
            count += 1
            i = Int(next[i])
        }
        return count
    }
}

/// Per-call cache of merged pieces: piece bytes → token ids. Keys point into the text being
/// encoded (the first occurrence of each piece), so the cache lives only as long as one
/// `encode` call and needs no lock. It is a flat open-addressing table over manually managed
/// memory; call `deallocate()` when done.
struct BPEWordCache {
    private struct Slot {
        var hash: UInt64
        var keyStart: Int32
        var keyLength: Int32
        var valueStart: Int32
        var valueCount: Int32
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var capacity: Int
    private var used = 0
    private var values: UnsafeMutablePointer<Int32>
    private var valuesCapacity: Int
    private var valuesUsed = 0
    let text: UnsafePointer<UInt8>

    init(text: UnsafePointer<UInt8>, expectedPieces: Int) {
        self.text = text
        var c = 256
        while c < expectedPieces { c <<= 1 }
        capacity = c
        slots = .allocate(capacity: c)
        slots.initialize(repeating: Slot(hash: 0, keyStart: 0, keyLength: 0, valueStart: 0, valueCount: 0), count: c)
        valuesCapacity = c * 2
        values = .allocate(capacity: valuesCapacity)
    }

    func deallocate() {
        slots.deallocate()
        values.deallocate()
    }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        let raw = UnsafeRawPointer(p)
        var h = UInt64(n) &* 0x9E37_79B9_7F4A_7C15
        var i = 0
        while i + 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 32
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            while i < n { w |= UInt64(p[i]) << shift; shift += 8; i += 1 }
            h = (h ^ w) &* 0xC4CE_B9FE_1A85_EC53
            h ^= h >> 29
        }
        return h | 1  // 0 marks an empty slot
    }

    /// The cached ids of the piece `text[start..<start + n]`, if any.
    @inline(__always)
    func lookup(start: Int, length n: Int, hash h: UInt64) -> UnsafeBufferPointer<Int32>? {
        let mask = capacity - 1
        var slot = Int(truncatingIfNeeded: h >> 7) & mask
        while true {
            let s = slots[slot]
            if s.hash == 0 { return nil }
            if s.hash == h, Int(s.keyLength) == n,
               bytesEqual(text + Int(s.keyStart), text + start, n) {
                return UnsafeBufferPointer(start: values + Int(s.valueStart), count: Int(s.valueCount))
            }
            slot = (slot + 1) & mask
        }
    }

    /// Remembers the ids of the piece `text[start..<start + n]` (not already cached).
    mutating func insert(start: Int, length n: Int, hash h: UInt64, ids: UnsafePointer<Int32>, count: Int) {
        guard start <= Int(Int32.max), valuesUsed + count <= Int(Int32.max) else { return }
        if (used + 1) * 2 > capacity { grow() }
        if valuesUsed + count > valuesCapacity {
            var newCapacity = valuesCapacity * 2
            while newCapacity < valuesUsed + count { newCapacity *= 2 }
            let newValues = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity)
            newValues.update(from: values, count: valuesUsed)
            values.deallocate()
            values = newValues
            valuesCapacity = newCapacity
        }
        (values + valuesUsed).update(from: ids, count: count)
        let mask = capacity - 1
        var slot = Int(truncatingIfNeeded: h >> 7) & mask
        while slots[slot].hash != 0 { slot = (slot + 1) & mask }
        slots[slot] = Slot(hash: h, keyStart: Int32(start), keyLength: Int32(n),
                           valueStart: Int32(valuesUsed), valueCount: Int32(count))
        valuesUsed += count
        used += 1
    }

    private mutating func grow() {
        let oldSlots = slots
        let oldCapacity = capacity
        capacity *= 2
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(hash: 0, keyStart: 0, keyLength: 0, valueStart: 0, valueCount: 0), count: capacity)
        let mask = capacity - 1
        for i in 0..<oldCapacity where oldSlots[i].hash != 0 {
            var slot = Int(truncatingIfNeeded: oldSlots[i].hash >> 7) & mask
            while slots[slot].hash != 0 { slot = (slot + 1) & mask }
            slots[slot] = oldSlots[i]
        }
        oldSlots.deallocate()
    }
}
