//! How pages write dates, times and numbers: dd/mm/yyyy in Vietnamese (yyyy-mm-dd in English),
//! times in Asia/Ho_Chi_Minh (UTC+7 all year), thousands grouped with a dot in Vietnamese.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::chrome::Lang;

/// Vietnam's time zone: UTC+7, no daylight saving time.
pub fn vietnam() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(7))
}

/// Today in Vietnam.
pub fn today(now: Timestamp) -> Date {
    now.to_zoned_datetime(vietnam()).date()
}

/// A date: `25/05/2021` in Vietnamese, `2021-05-25` in English.
pub fn date(d: Date, lang: Lang) -> String {
    match lang {
        Lang::Vi => format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year()),
        Lang::En => d.to_string(),
    }
}

/// A moment, in Vietnam's time: `25/05/2021 14:05`.
pub fn datetime(t: Timestamp, lang: Lang) -> String {
    let z = t.to_zoned_datetime(vietnam());
    format!("{} {:02}:{:02}", date(z.date(), lang), z.hour(), z.minute())
}

/// A count with thousands grouped: `20.000` in Vietnamese, `20,000` in English.
pub fn count(n: u64, lang: Lang) -> String {
    let sep = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

/// A share as a whole percentage (`—` when there is nothing to divide).
pub fn percent(part: u64, whole: u64) -> String {
    match (part * 100 + whole / 2).checked_div(whole) {
        Some(p) => format!("{p}%"),
        None => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_read_the_vietnamese_way() {
        let d = jiff::civil::date(2021, 5, 25);
        assert_eq!(date(d, Lang::Vi), "25/05/2021");
        assert_eq!(date(d, Lang::En), "2021-05-25");
        // 17:30 UTC is half past midnight the next day in Hà Nội.
        let t: Timestamp = "2026-12-07T17:30:00Z".parse().unwrap();
        assert_eq!(datetime(t, Lang::Vi), "08/12/2026 00:30");
        assert_eq!(today(t), jiff::civil::date(2026, 12, 8));
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0, Lang::Vi), "0");
        assert_eq!(count(999, Lang::Vi), "999");
        assert_eq!(count(20_000, Lang::Vi), "20.000");
        assert_eq!(count(1_234_567, Lang::En), "1,234,567");
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(0, 0), "—");
    }
}
