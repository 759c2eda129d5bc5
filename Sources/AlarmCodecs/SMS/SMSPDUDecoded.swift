extension SMSPDU {
    /// What a modem emulator needs to check what the driver sent.
    public struct Decoded: Sendable, Hashable {
        /// "+32470123456" for international (TON 0x91), digits otherwise.
        public var number: String
        /// The text of this part only; joining parts is the reader's business.
        public var text: String
        /// nil for a message sent as one part.
        public var concatenation: Concatenation?

        public init(number: String, text: String, concatenation: Concatenation? = nil) {
            self.number = number
            self.text = text
            self.concatenation = concatenation
        }
    }

    /// The concatenation information element of one part. A struct rather than the tuple
    /// `(reference:total:sequence:)` because tuples cannot be Hashable.
    public struct Concatenation: Sendable, Hashable {
        /// 8-bit (IEI 0x00) or 16-bit (IEI 0x08) reference.
        public var reference: Int
        public var total: Int
        /// 1-based.
        public var sequence: Int

        public init(reference: Int, total: Int, sequence: Int) {
            self.reference = reference
            self.total = total
            self.sequence = sequence
        }
    }
}
