// The three outcomes of feeding bytes to a head parser.

/// What a head parser made of the bytes it has seen so far.
public enum HeadParseResult<Head: Sendable & Equatable>: Sendable, Equatable {
    /// The head is complete; its `headEnd` is where the body (or the next message) starts.
    case complete(Head)
    /// The head is valid so far but not finished: call again with the same bytes and more appended.
    case needMoreBytes
    /// The head is invalid. The parser keeps returning this until it is reset.
    case failed(HTTPParseError)
}
