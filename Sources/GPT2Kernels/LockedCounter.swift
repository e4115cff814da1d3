import Foundation

/// An integer shared between threads.
package final class LockedCounter: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var count: Int

    package init(_ initial: Int = 0) { count = initial }

    package func add(_ delta: Int) {
        lock.lock()
        count += delta
        lock.unlock()
    }

    package var value: Int {
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
