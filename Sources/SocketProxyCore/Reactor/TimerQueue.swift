// Deadlines for the event loop: an indexed binary heap, so rescheduling a timer never allocates.

/// Something that owns a timer and is told when it fires.
public protocol TimerHandler: AnyObject {
    /// Called on the loop's thread once the deadline has passed.
    func timerFired(_ timer: LoopTimer)
}

/// A deadline that can be scheduled, moved and cancelled on one event loop. Create one per owner and reuse it.
public final class LoopTimer {
    /// Monotonic nanoseconds at which the timer fires.
    @exclusivity(unchecked) public internal(set) var deadline: UInt64 = 0
    /// INVARIANT: the position in the owning queue's heap, or -1 while not scheduled.
    @exclusivity(unchecked) var heapIndex: Int = -1
    /// The owner. SAFETY: the owner holds the timer and cancels it before it goes away, so the reference stays
    /// valid while the timer is scheduled; unowned(unsafe) spares a reference count per firing.
    unowned(unsafe) let handler: TimerHandler

    /// Creates an unscheduled timer for `handler`.
    public init(handler: TimerHandler) {
        self.handler = handler
    }

    /// Whether the timer is scheduled.
    public var isScheduled: Bool { heapIndex >= 0 }
}

/// A min-heap of timers keyed by deadline.
struct TimerQueue {
    private var heap: [LoopTimer] = []

    init() { heap.reserveCapacity(1024) }

    var count: Int { heap.count }

    /// The earliest deadline, if any.
    var nextDeadline: UInt64? { heap.first?.deadline }

    mutating func schedule(_ timer: LoopTimer, at deadline: UInt64) {
        if timer.heapIndex >= 0 {
            let old = timer.deadline
            timer.deadline = deadline
            if deadline < old { siftUp(timer.heapIndex) } else { siftDown(timer.heapIndex) }
            return
        }
        timer.deadline = deadline
        timer.heapIndex = heap.count
        heap.append(timer)
        siftUp(heap.count - 1)
    }

    mutating func cancel(_ timer: LoopTimer) {
        let index = timer.heapIndex
        guard index >= 0 else { return }
        let last = heap.count - 1
        if index != last {
            swapAt(index, last)
        }
        heap.removeLast()
        timer.heapIndex = -1
        if index < heap.count {
            siftDown(index)
            siftUp(index)
        }
    }

    /// Removes and returns the earliest timer if its deadline is at or before `now`.
    mutating func popExpired(now: UInt64) -> LoopTimer? {
        guard let first = heap.first, first.deadline <= now else { return nil }
        cancel(first)
        return first
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].heapIndex = a
        heap[b].heapIndex = b
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            let right = left + 1
            if right < heap.count && heap[right].deadline < heap[left].deadline { smallest = right }
            guard heap[smallest].deadline < heap[parent].deadline else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }
}
