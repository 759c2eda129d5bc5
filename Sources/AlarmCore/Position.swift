/// Where a position came from, best first.
public enum PositionSource: String, Sendable, Codable, Hashable {
    case gnss
    /// A GNSS fix kept from earlier; its age travels with it.
    case lastKnown = "last-known"
    /// Derived from the serving cell (network-based, coarse).
    case cell
}

public struct Fix: Sendable, Hashable, Codable {
    public var latitude: Double
    public var longitude: Double
    /// Horizontal accuracy radius in metres; `.infinity` when the receiver does not say (such a fix is
    /// never called fresh and never counts as movement).
    public var horizontalAccuracy: Double
    public var fixTime: WallTime
    public var source: PositionSource
    /// Metres above mean sea level, when known.
    public var altitude: Double?
    /// Metres per second over ground, when known.
    public var speed: Double?
    /// Degrees from true north, when known.
    public var course: Double?
    /// Satellites used in the solution (gpsd's SKY), when known.
    public var satellitesUsed: Int?

    public init(latitude: Double, longitude: Double, horizontalAccuracy: Double, fixTime: WallTime,
                source: PositionSource = .gnss, altitude: Double? = nil, speed: Double? = nil, course: Double? = nil,
                satellitesUsed: Int? = nil) {
        self.satellitesUsed = satellitesUsed
        self.latitude = latitude
        self.longitude = longitude
        self.horizontalAccuracy = horizontalAccuracy
        self.fixTime = fixTime
        self.source = source
        self.altitude = altitude
        self.speed = speed
        self.course = course
    }

    /// Distance in metres to another fix. An equirectangular approximation:
    /// exact to well under a metre over the few hundred metres that matter for
    /// "has the wearer moved", and it needs no math library in the pure core.
    public func distance(to other: Fix) -> Double {
        let degreesToRadians = Double.pi / 180
        let meanLatitude = (latitude + other.latitude) / 2 * degreesToRadians
        let x = (other.longitude - longitude) * degreesToRadians * cosine(meanLatitude)
        let y = (other.latitude - latitude) * degreesToRadians
        return (x * x + y * y).squareRoot() * 6_371_008.8
    }
}

/// The serving cell, which the centre can resolve to a coarse position when nothing better exists.
public struct CellInfo: Sendable, Hashable, Codable {
    public var mcc: Int
    public var mnc: Int
    /// LAC (2G/3G) or TAC (LTE).
    public var areaCode: Int
    public var cellID: Int
    public var accessTechnology: String

    public init(mcc: Int, mnc: Int, areaCode: Int, cellID: Int, accessTechnology: String) {
        self.mcc = mcc
        self.mnc = mnc
        self.areaCode = areaCode
        self.cellID = cellID
        self.accessTechnology = accessTechnology
    }
}

/// Cosine for |x| ≤ π/2 (latitudes), by a Taylor series that is accurate to 1e-12 there.
func cosine(_ x: Double) -> Double {
    let x2 = x * x
    var term = 1.0
    var sum = 1.0
    for n in stride(from: 2, through: 22, by: 2) {
        term *= -x2 / Double((n - 1) * n)
        sum += term
    }
    return sum
}
