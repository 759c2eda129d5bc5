import CBoardIO

/// The key codes a board may name for its button (`key=KEY_PROG1`), with the kernel's own values: the
/// ones a gpio-keys overlay is usually given. Any other code can be written as a number (`key=148`).
public enum KeyCode {
    public static let named: [String: UInt16] = {
        var table: [String: Int32] = [
            "KEY_ENTER": KEY_ENTER, "KEY_POWER": KEY_POWER, "KEY_SOS": KEY_SOS, "KEY_HELP": KEY_HELP,
            "KEY_PROG1": KEY_PROG1, "KEY_PROG2": KEY_PROG2, "KEY_PROG3": KEY_PROG3, "KEY_PROG4": KEY_PROG4,
            "KEY_WAKEUP": KEY_WAKEUP,
            "BTN_0": BTN_0, "BTN_1": BTN_1, "BTN_2": BTN_2, "BTN_3": BTN_3,
        ]
        let functionKeys: [Int32] = [KEY_F13, KEY_F14, KEY_F15, KEY_F16, KEY_F17, KEY_F18, KEY_F19, KEY_F20,
                                     KEY_F21, KEY_F22, KEY_F23, KEY_F24]
        for (index, code) in functionKeys.enumerated() { table["KEY_F\(13 + index)"] = code }
        return table.mapValues { UInt16($0) }
    }()

    /// A name from the table or a decimal code within the kernel's range (KEY_MAX).
    public static func parse(_ text: String) -> UInt16? {
        if let code = named[text] { return code }
        guard let number = UInt16(text), number > 0, Int32(number) <= KEY_MAX else { return nil }
        return number
    }
}
