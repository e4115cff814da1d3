/// The keys and values of every position a sequence has seen, for every block: the state of one
/// generation. Create one per sequence with ``GPT2Model/makeCache(capacity:)``; a cache is used by
/// one task at a time and is not shared.
public final class KVCache {
    /// Most positions this cache can hold.
    public let capacity: Int
    /// Positions cached so far: the next token goes to position `count`.
    public internal(set) var count = 0

    let layerCount: Int
    let width: Int
    /// [n_layer, capacity, n_embd] each; allocated, not touched, so unused capacity costs no RSS.
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    init(layerCount: Int, width: Int, capacity: Int) {
        self.layerCount = layerCount
        self.width = width
        self.capacity = capacity
        keys = .allocate(capacity: layerCount * capacity * width)
        values = .allocate(capacity: layerCount * capacity * width)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Forgets every cached position, so the cache can start a new sequence.
    public func reset() { count = 0 }

    /// Forgets the positions from `newCount` on, keeping the ones before.
    public func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate(to:) needs 0...count")
        count = newCount
    }

    /// Keys of block `layer`: [capacity, n_embd].
    func keys(layer: Int) -> UnsafeMutablePointer<Float> { keys + layer * capacity * width }
    /// Values of block `layer`: [capacity, n_embd].
    func values(layer: Int) -> UnsafeMutablePointer<Float> { values + layer * capacity * width }
}
