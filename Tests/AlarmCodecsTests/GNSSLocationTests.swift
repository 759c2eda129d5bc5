import AlarmCodecs
import AlarmCore
import Testing

/// The modem's own GNSS over AT: Quectel `+QGPSLOC` (mode 2) and SIMCom `+CGPSINFO`, in the shapes the
/// modules print, and everything a noisy UART can make of them.
@Suite struct GNSSLocationTests {
    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int, ms: Int = 0) -> WallTime {
        WallTime(millisecondsSince1970: CivilTime(year: year, month: month, day: day, hour: hour, minute: minute,
                                                  second: second, millisecond: ms).millisecondsSince1970)
    }

    // MARK: Quectel

    @Test func quectelModeTwoInBrussels() throws {
        let location = try QuectelLocation.parse("+QGPSLOC: 093512.250,50.84712,4.35291,1.1,57.3,3,123.30,5.4,2.9,140524,08")
        #expect(location.latitude == 50.84712)
        #expect(location.longitude == 4.35291)
        #expect(location.time == Self.utc(2024, 5, 14, 9, 35, 12, ms: 250))
        #expect(location.hdop == 1.1)
        #expect(location.altitude == 57.3)
        #expect(location.course == 123.5)  // 123°30′
        #expect(abs((location.speed ?? 0) - 1.5) < 1e-9)  // 5.4 km/h
        #expect(location.satellitesUsed == 8)
        #expect(abs(location.horizontalAccuracy - 20.9) < 1e-9)  // 1.1 × 19 m
        let fix = location.fix
        #expect(fix.source == .gnss)
        #expect(fix.fixTime == location.time)
        #expect(fix.horizontalAccuracy == location.horizontalAccuracy)
        #expect(fix.satellitesUsed == 8)
    }

    @Test func quectelSouthernAndWesternHemispheresAreNegative() throws {
        let sydney = try QuectelLocation.parse("+QGPSLOC: 235959.000,-33.86882,151.20929,0.8,12.0,3,0.00,0.0,0.0,311223,11")
        #expect(sydney.latitude == -33.86882)
        #expect(sydney.longitude == 151.20929)
        #expect(sydney.time == Self.utc(2023, 12, 31, 23, 59, 59))
        let lima = try QuectelLocation.parse("+QGPSLOC: 120000.000,-12.04637,-77.04279,2.0,154.0,3,359.59,0.0,0.0,290224,05")
        #expect(lima.latitude == -12.04637)
        #expect(lima.longitude == -77.04279)
        #expect(lima.time == Self.utc(2024, 2, 29, 12, 0, 0))  // a leap day
        #expect(abs((lima.course ?? 0) - (359 + 59.0 / 60)) < 1e-9)
    }

    @Test func quectelTwoDimensionalFixHasNoAltitude() throws {
        let location = try QuectelLocation.parse("+QGPSLOC: 061951.000,31.84537,117.19882,0.7,62.2,2,0.00,0.0,0.0,110513,09")
        #expect(location.altitude == nil)
        #expect(location.latitude == 31.84537)
    }

    @Test func quectelModeZeroShapeIsReadAsDegreesAndMinutes() throws {
        // `ddmm.mmmmN` (mode 0), should a firmware answer in it: 31°50.7223′ N, 117°11.9293′ E; and S/W.
        let north = try QuectelLocation.parse("+QGPSLOC: 061951.000,3150.7223N,11711.9293E,0.7,62.2,2,0.00,0.0,0.0,110513,09")
        #expect(abs(north.latitude - (31 + 50.7223 / 60)) < 1e-9)
        #expect(abs(north.longitude - (117 + 11.9293 / 60)) < 1e-9)
        let south = try QuectelLocation.parse("+QGPSLOC: 061951.000,3351.1292S,07002.5674W,0.9,520.0,3,0.00,0.0,0.0,110513,07")
        #expect(abs(south.latitude + (33 + 51.1292 / 60)) < 1e-9)
        #expect(abs(south.longitude + (70 + 2.5674 / 60)) < 1e-9)
    }

    @Test func quectelCourseInDecimalDegreesIsTakenAsSuch() throws {
        // ".75" cannot be minutes: the firmware printed decimal degrees.
        let location = try QuectelLocation.parse("+QGPSLOC: 093512.000,50.84712,4.35291,1.1,57.3,3,123.75,5.4,2.9,140524,08")
        #expect(location.course == 123.75)
    }

    @Test(arguments: [
        // Truncated: the UART dropped the tail.
        ("+QGPSLOC: 093512.000,50.84712,4.35291,1.1,57.3,3,0.00,0.0,0.0,1405", GNSSLocationError.fieldCount(expected: 11, got: 10)),
        ("+QGPSLOC: 093512.000,50.84", .fieldCount(expected: 11, got: 2)),
        ("+QGPSLOC: ", .fieldCount(expected: 11, got: 1)),
        ("+QGPSLOC: 093512.000,50.84712,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08,1", .fieldCount(expected: 11, got: 12)),
        // Out of range.
        ("+QGPSLOC: 093512.000,90.5,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08", .outOfRange(field: "latitude", value: "90.5")),
        ("+QGPSLOC: 093512.000,50.8,-180.01,1.1,57.3,3,0.00,0.0,0.0,140524,08", .outOfRange(field: "longitude", value: "-180.01")),
        ("+QGPSLOC: 093512.000,50.8,4.3,0.0,57.3,3,0.00,0.0,0.0,140524,08", .outOfRange(field: "HDOP", value: "0.0")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,57.3,1,0.00,0.0,0.0,140524,08", .outOfRange(field: "fix", value: "1")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,57.3,3,0.00,0.0,0.0,310224,08", .outOfRange(field: "date/time", value: "310224 093512.000")),
        ("+QGPSLOC: 246012.000,50.8,4.3,1.1,57.3,3,0.00,0.0,0.0,140524,08", .outOfRange(field: "date/time", value: "140524 246012.000")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,57.3,3,361.00,0.0,0.0,140524,08", .outOfRange(field: "course", value: "361.00")),
        ("+QGPSLOC: 093512.000,5060.0000N,4.3,1.1,57.3,3,0.00,0.0,0.0,140524,08", .outOfRange(field: "latitude", value: "5060.0000")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,99999.0,3,0.00,0.0,0.0,140524,08", .outOfRange(field: "altitude", value: "99999.0")),
        // Malformed: noise, numbers a modem never prints.
        ("+QGPSLOC: 093512.000,5O.84712,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08", .malformed(field: "latitude", value: "5O.84712")),
        ("+QGPSLOC: 093512.000,nan,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08", .malformed(field: "latitude", value: "nan")),
        ("+QGPSLOC: 093512.000,5e1,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08", .malformed(field: "latitude", value: "5e1")),
        ("+QGPSLOC: 093512.000,50.8,4.3,-1.1,57.3,3,0.00,0.0,0.0,140524,08", .malformed(field: "HDOP", value: "-1.1")),
        ("+QGPSLOC: 93512.000,50.8,4.3,1.1,57.3,3,0.00,0.0,0.0,140524,08", .malformed(field: "UTC time", value: "93512.000")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,57.3,3,0.00,5.#,0.0,140524,08", .malformed(field: "speed", value: "5.#")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,57.3,3,0.00,0.0,0.0,14052A,08", .malformed(field: "date", value: "14052A")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,57.3,3,0.00,0.0,0.0,140524,x8", .malformed(field: "satellites", value: "x8")),
        ("+QGPSLOC: 093512.000,5050.0000X,4.3,1.1,57.3,3,0.00,0.0,0.0,140524,08", .malformed(field: "latitude", value: "5050.0000X")),
        ("+QGPSLOC: 093512.000,5050.0000W,4.3,1.1,57.3,3,0.00,0.0,0.0,140524,08", .malformed(field: "latitude hemisphere", value: "W")),
        // Empty where a fix must have a value.
        ("+QGPSLOC: 093512.000,,4.3,1.1,57.3,3,0.00,0.0,0.0,140524,08", .incomplete(field: "latitude")),
        ("+QGPSLOC: 093512.000,50.8,4.3,1.1,57.3,3,0.00,0.0,0.0,,08", .incomplete(field: "date")),
        // Another command's answer.
        ("+CGPSINFO: ,,,,,,,,", .notALocationLine("+CGPSINFO: ,,,,,,,,")),
        ("QGPSLOC: 093512.000", .notALocationLine("QGPSLOC: 093512.000")),
    ])
    func quectelRejects(line: String, expected: GNSSLocationError) {
        #expect(throws: expected) { try QuectelLocation.parse(line) }
    }

    @Test func quectelErrorsAreReadInBothErrorModes() throws {
        let query = GNSSQuery.quectelLocation
        #expect(try query.interpret(.cmeError(code: 516, text: "516"), lines: []) == .noFix)
        #expect(try query.interpret(.cmeError(code: nil, text: "Not fixed now"), lines: []) == .noFix)
        #expect(try query.interpret(.cmeError(code: 505, text: "505"), lines: []) == .engineOff)
        #expect(try query.interpret(.cmeError(code: nil, text: "Session not active"), lines: []) == .engineOff)
        #expect(try query.interpret(.error, lines: []) == .refused(.error))
        #expect(try query.interpret(.cmeError(code: 503, text: "503"), lines: []) == .refused(.cmeError(code: 503, text: "503")))
        let line = "+QGPSLOC: 093512.000,50.84712,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08"
        #expect(try query.interpret(.ok, lines: [line]) == .fix(try QuectelLocation.parse(line)))
        // OK without the position line is a broken answer, not "no fix".
        #expect(throws: GNSSLocationError.self) { try query.interpret(.ok, lines: []) }
    }

    // MARK: SIMCom

    @Test func simcomInGhent() throws {
        let location = try #require(try SIMComGPSInfo.parse("+CGPSINFO: 5103.271800,N,00343.512600,E,140524,093512.0,9.5,2.7,87.4"))
        #expect(abs(location.latitude - (51 + 3.2718 / 60)) < 1e-9)
        #expect(abs(location.longitude - (3 + 43.5126 / 60)) < 1e-9)
        #expect(location.time == Self.utc(2024, 5, 14, 9, 35, 12))
        #expect(location.altitude == 9.5)
        #expect(abs((location.speed ?? 0) - 2.7 * 1852 / 3600) < 1e-9)
        #expect(location.course == 87.4)
        #expect(location.hdop == nil)
        #expect(abs(location.horizontalAccuracy - 47.5) < 1e-9)  // the assumed HDOP 2.5 × 19 m
    }

    @Test func simcomSouthernAndWesternHemispheresAreNegative() throws {
        let capeTown = try #require(try SIMComGPSInfo.parse("+CGPSINFO: 3355.155800,S,01825.404000,E,010124,000001.5,15.0,0.0,0.0"))
        #expect(abs(capeTown.latitude + (33 + 55.1558 / 60)) < 1e-9)
        #expect(abs(capeTown.longitude - (18 + 25.404 / 60)) < 1e-9)
        #expect(capeTown.time == Self.utc(2024, 1, 1, 0, 0, 1, ms: 500))
        let rio = try #require(try SIMComGPSInfo.parse("+CGPSINFO: 2254.418000,S,04310.512000,W,150324,181500.0,-2.5,,"))
        #expect(abs(rio.latitude + (22 + 54.418 / 60)) < 1e-9)
        #expect(abs(rio.longitude + (43 + 10.512 / 60)) < 1e-9)
        #expect(rio.altitude == -2.5)
        #expect(rio.speed == nil && rio.course == nil)
        let reykjavik = try #require(try SIMComGPSInfo.parse("+CGPSINFO: 6408.790000,N,12156.440000,W,150324,181500.0,30.0,0.0,0.0"))
        #expect(abs(reykjavik.longitude + (121 + 56.44 / 60)) < 1e-9)
    }

    @Test func simcomEmptyFieldsMeanNoFix() throws {
        #expect(try SIMComGPSInfo.parse("+CGPSINFO: ,,,,,,,,") == nil)
        #expect(try SIMComGPSInfo.parse("+CGPSINFO:,,,,,,,,") == nil)
        #expect(try GNSSQuery.simcomInfo.interpret(.ok, lines: ["+CGPSINFO: ,,,,,,,,"]) == .noFix)
        #expect(try GNSSQuery.simcomInfo.interpret(.error, lines: []) == .refused(.error))
    }

    @Test(arguments: [
        ("+CGPSINFO: 5103.271800,N,00343.512600,E,140524", GNSSLocationError.fieldCount(expected: 9, got: 5)),
        ("+CGPSINFO: ,,,,,,,", .fieldCount(expected: 9, got: 8)),
        ("+CGPSINFO: 5103.271800,N,00343.512600,E,140524,093512.0,9.5,2.7,87.4,1", .fieldCount(expected: 9, got: 10)),
        ("+CGPSINFO: 5103.271800,,00343.512600,E,140524,093512.0,9.5,2.7,87.4", .incomplete(field: "latitude hemisphere")),
        ("+CGPSINFO: 5103.271800,N,00343.512600,E,,093512.0,9.5,2.7,87.4", .incomplete(field: "date")),
        ("+CGPSINFO: 9103.271800,N,00343.512600,E,140524,093512.0,9.5,2.7,87.4", .outOfRange(field: "latitude", value: "9103.271800")),
        ("+CGPSINFO: 5103.271800,N,18043.512600,E,140524,093512.0,9.5,2.7,87.4", .outOfRange(field: "longitude", value: "18043.512600")),
        ("+CGPSINFO: 5163.271800,N,00343.512600,E,140524,093512.0,9.5,2.7,87.4", .outOfRange(field: "latitude", value: "5163.271800")),
        ("+CGPSINFO: 5103.271800,N,00343.512600,E,140524,093512.0,9.5,2.7,400.0", .outOfRange(field: "course", value: "400.0")),
        ("+CGPSINFO: 5103.271800,N,00343.512600,E,300224,093512.0,9.5,2.7,87.4", .outOfRange(field: "date/time", value: "300224 093512.0")),
        ("+CGPSINFO: 5103.271800,Q,00343.512600,E,140524,093512.0,9.5,2.7,87.4", .malformed(field: "latitude hemisphere", value: "Q")),
        ("+CGPSINFO: 5103.271800,N,00343.512600,NE,140524,093512.0,9.5,2.7,87.4", .malformed(field: "longitude hemisphere", value: "NE")),
        ("+CGPSINFO: 5103.27\u{FFFD}800,N,00343.512600,E,140524,093512.0,9.5,2.7,87.4", .malformed(field: "latitude", value: "5103.27\u{FFFD}800")),
        ("+CGPSINFO: -5103.271800,N,00343.512600,E,140524,093512.0,9.5,2.7,87.4", .malformed(field: "latitude", value: "-5103.271800")),
        ("+CGPSINFO: 51.271800,N,00343.512600,E,140524,093512.0,9.5,2.7,87.4", .malformed(field: "latitude", value: "51.271800")),
        ("+CGPSINFO: 5103.271800,N,00343.512600,E,140524,093512.0,9.5,-2.7,87.4", .malformed(field: "speed", value: "-2.7")),
        ("+QGPSLOC: 093512.000,50.84712,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08",
         .notALocationLine("+QGPSLOC: 093512.000,50.84712,4.35291,1.1,57.3,3,0.00,0.0,0.0,140524,08")),
    ])
    func simcomRejects(line: String, expected: GNSSLocationError) {
        #expect(throws: expected) { try SIMComGPSInfo.parse(line) }
    }

    @Test func errorsSayWhatWasWrong() {
        #expect("\(GNSSLocationError.outOfRange(field: "latitude", value: "90.5"))" == "GNSS latitude out of range: 90.5")
        #expect("\(GNSSLocationError.fieldCount(expected: 9, got: 5))" == "GNSS location line has 5 field(s), expected 9")
    }

    @Test func profilesQueryWithTheirOwnCommands() {
        #expect(GNSSQuery.quectelLocation.command == "AT+QGPSLOC=2")
        #expect(GNSSQuery.quectelLocation.responsePrefix == "+QGPSLOC:")
        #expect(GNSSQuery.simcomInfo.command == "AT+CGPSINFO")
        #expect(GNSSQuery.simcomInfo.responsePrefix == "+CGPSINFO:")
    }
}
