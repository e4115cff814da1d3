import Foundation

/// An integer shared between threads.
final class LockedCounter: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var count: Int

    init(_ initial: Int = 0) { count = initial }

    func add(_ delta: Int) {
        lock.lock()
        count += delta
        lock.unlock()
    }

    var value: Int {
        get {
            lock.lock()
            defer { lock.unlock() }
            return count
        }
        set {
            lock.lock()
            count = newValue
            lock.unlock()
        }
    }
}
