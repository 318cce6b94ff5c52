//! The security level of Decree 85/2016 (cấp độ an toàn hệ thống thông tin), 1 to 5, as a type
//! that cannot hold anything else, so a level read from JSON or a form is checked once, here.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A level outside 1-5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "cấp độ {0} không tồn tại: cấp độ từ 1 đến 5 (level {0} does not exist: levels are 1 to 5)"
)]
pub struct LevelError(pub u8);

/// A security level, 1 (lowest) to 5. In JSON it is the bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Level(u8);

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [Level(1), Level(2), Level(3), Level(4), Level(5)];

    /// The level `n`, if 1 to 5.
    pub fn new(n: u8) -> Result<Level, LevelError> {
        if (1..=5).contains(&n) {
            Ok(Level(n))
        } else {
            Err(LevelError(n))
        }
    }

    /// Its number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// "cấp độ 3".
    pub fn label_vi(self) -> String {
        format!("cấp độ {}", self.0)
    }
}

impl TryFrom<u8> for Level {
    type Error = LevelError;

    fn try_from(n: u8) -> Result<Level, LevelError> {
        Level::new(n)
    }
}

impl From<Level> for u8 {
    fn from(level: Level) -> u8 {
        level.0
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1_to_5() {
        assert_eq!(Level::new(3).unwrap().get(), 3);
        assert_eq!(Level::new(0), Err(LevelError(0)));
        assert_eq!(Level::new(6), Err(LevelError(6)));
        assert_eq!(serde_json::to_string(&Level::new(4).unwrap()).unwrap(), "4");
        assert_eq!(serde_json::from_str::<Level>("2").unwrap().get(), 2);
        let err = serde_json::from_str::<Level>("7").unwrap_err().to_string();
        assert!(err.contains("cấp độ 7 không tồn tại"), "{err}");
    }
}
