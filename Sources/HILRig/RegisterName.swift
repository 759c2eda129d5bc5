import AlarmRuntime
import AlarmSimulation

/// A value of the device's test-port map by name, as scenario files write it (docs/hil.md).
public struct RegisterName: Sendable, Hashable, CustomStringConvertible {
    public enum Width: Sendable, Hashable { case bit, word, unsigned32, signed32 }
    public enum Area: Sendable, Hashable { case input, discrete }

    public let name: String
    public let area: Area
    public let address: Int
    public let width: Width

    public var description: String { name }

    static let thirtyTwoBit: Set<TestPortMap.Input> = [.alarmsRaised, .reportsSent, .reportsAcknowledged, .callsPlaced,
                                                        .callsConnected, .modemRestarts, .uptimeSeconds]

    public init?(_ name: String) {
        self.name = name
        if let input = TestPortMap.Input.allCases.first(where: { "\($0)" == name }) {
            area = .input
            address = input.rawValue
            width = input == .latitude || input == .longitude ? .signed32 : Self.thirtyTwoBit.contains(input) ? .unsigned32 : .word
        } else if let discrete = TestPortMap.Discrete.allCases.first(where: { "\($0)" == name }) {
            area = .discrete
            address = discrete.rawValue
            width = .bit
        } else {
            return nil
        }
    }

    public static var all: [String] { TestPortMap.Input.allCases.map { "\($0)" } + TestPortMap.Discrete.allCases.map { "\($0)" } }

    /// The value from one read of the whole map.
    func value(in snapshot: MapSnapshot) -> Int64 {
        switch width {
        case .bit: snapshot.discrete[address] ? 1 : 0
        case .word: Int64(snapshot.input[address])
        case .unsigned32: Int64(UInt32(snapshot.input[address]) << 16 | UInt32(snapshot.input[address + 1]))
        case .signed32: Int64(Int32(bitPattern: UInt32(snapshot.input[address]) << 16 | UInt32(snapshot.input[address + 1])))
        }
    }
}

/// One read of the device's whole map.
public struct MapSnapshot: Sendable, Hashable {
    public var input: [UInt16]
    public var discrete: [Bool]
}
