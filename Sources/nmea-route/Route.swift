import Glibc

/// A walk along straight segments between waypoints at constant speed.
///
/// Positions are interpolated linearly in degrees along each segment;
/// distances and directions use a local equirectangular projection around
/// each segment's mean latitude (errors well under a millimetre for the
/// few-hundred-metre segments of a test walk).
struct Route {
    struct Point: Equatable {
        var latitude: Double
        var longitude: Double
    }

    /// A state of motion: where the walker is and how it moves.
    struct Sample {
        var position: Point
        /// Metres per second over ground.
        var speed: Double
        /// Degrees true, 0 ..< 360; nil when not moving and never moved.
        var course: Double?
    }

    /// Mean Earth radius (IUGG), metres.
    static let earthRadius = 6_371_008.8

    /// Ghent: Korenmarkt area → Sint-Baafsplein → towards the Zuid.
    static let ghent: [Point] = [
        Point(latitude: 51.05430, longitude: 3.71740),
        Point(latitude: 51.05480, longitude: 3.72010),
        Point(latitude: 51.05610, longitude: 3.72250),
    ]

    let waypoints: [Point]
    /// Metres per second.
    let speed: Double
    private let segmentLengths: [Double]
    let length: Double

    init(waypoints: [Point], speed: Double) {
        precondition(waypoints.count >= 1)
        self.waypoints = waypoints
        self.speed = speed
        var lengths: [Double] = []
        for index in waypoints.indices.dropLast() {
            let (north, east) = Self.displacement(from: waypoints[index], to: waypoints[index + 1])
            lengths.append((north * north + east * east).squareRoot())
        }
        segmentLengths = lengths
        length = lengths.reduce(0, +)
    }

    /// North and east metres from `a` to `b`.
    static func displacement(from a: Point, to b: Point) -> (north: Double, east: Double) {
        let radiansPerDegree = Double.pi / 180
        let meanLatitude = (a.latitude + b.latitude) / 2 * radiansPerDegree
        let north = (b.latitude - a.latitude) * radiansPerDegree * earthRadius
        let east = (b.longitude - a.longitude) * radiansPerDegree * earthRadius * cos(meanLatitude)
        return (north, east)
    }

    /// Position after walking `distance` metres (clamped to the route).
    func position(atDistance distance: Double) -> Point {
        var left = min(max(distance, 0), length)
        for (index, segment) in segmentLengths.enumerated() {
            if left <= segment || index == segmentLengths.count - 1 {
                let fraction = segment > 0 ? min(left / segment, 1) : 1
                let a = waypoints[index], b = waypoints[index + 1]
                return Point(
                    latitude: a.latitude + (b.latitude - a.latitude) * fraction,
                    longitude: a.longitude + (b.longitude - a.longitude) * fraction)
            }
            left -= segment
        }
        return waypoints[0]
    }

    /// The walker `seconds` after the start. Velocity is the displacement
    /// from half a second before to half a second after (the first epoch
    /// looks forward only), divided by that time: exact on straight
    /// stretches, the chord at corners, and zero once the walker has reached
    /// the end of the route (where the course keeps its last value).
    func sample(atSecond seconds: Double, previousCourse: Double?) -> Sample {
        let here = position(atDistance: speed * seconds)
        let from = max(seconds - 0.5, 0), to = seconds + 0.5
        let before = position(atDistance: speed * from)
        let after = position(atDistance: speed * to)
        let (north, east) = Self.displacement(from: before, to: after)
        let moved = (north * north + east * east).squareRoot()
        guard moved > 1e-6 else {
            return Sample(position: here, speed: 0, course: previousCourse)
        }
        var course = atan2(east, north) * 180 / Double.pi
        if course < 0 { course += 360 }
        return Sample(position: here, speed: moved / (to - from), course: course)
    }
}
