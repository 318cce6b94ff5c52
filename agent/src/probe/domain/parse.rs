//! Reading registration data out of what registries send: RDAP JSON (RFC 9083), the RDAP
//! bootstrap registry (RFC 9224, IANA's `dns.json`), and WHOIS text in its many dialects.
//!
//! Pure functions over bytes and text, kept apart from the network code so that they can be
//! tested on fixtures and on arbitrary input (they must never panic: a registry answer is
//! untrusted). They read observations only: a status such as `clientHold` is passed on, not
//! judged.
//!
//! Choices, each documented where it is made:
//! - dates without an offset (`2030-01-22`, `22-01-2030 10:00:00`) are taken as UTC; numeric
//!   dates with the year last are read day first (`01-02-2030` is 1 February, as VNNIC and most
//!   registries outside the US write them) unless the second number cannot be a month;
//! - RDAP status values (`client hold`) are written in EPP style (`clientHold`) by joining
//!   their words in lowerCamelCase, which gives the EPP code for every RFC 8056 value except
//!   `active` (EPP `ok`), kept as `active`; WHOIS statuses keep their code and drop the
//!   explanatory URL ICANN registries append (`clientHold https://icann.org/epp#clientHold`);
//! - a date field that is present but not understood is a problem of the answer, reported, and
//!   never guessed at.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{Offset, TimeZone};
use serde_json::Value;

/// Longest value kept from a WHOIS field or RDAP string (characters).
const MAX_VALUE_CHARS: usize = 256;
/// Most statuses and name servers kept from one answer.
const MAX_LIST: usize = 32;

/// What one registry answer says about a registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// The registrar's name, if given.
    pub registrar: Option<String>,
    /// Registration date.
    pub created: Option<Timestamp>,
    /// Expiry date.
    pub expires: Option<Timestamp>,
    /// Status codes, in the order given, without duplicates.
    pub statuses: Vec<String>,
    /// Name servers, lower-case, without the trailing dot.
    pub nameservers: Vec<String>,
    /// Fields present but not understood (e.g. an expiry date in an unknown format).
    pub problems: Vec<String>,
}

impl Registration {
    /// Whether nothing at all was recognised.
    pub fn is_empty(&self) -> bool {
        self.registrar.is_none()
            && self.created.is_none()
            && self.expires.is_none()
            && self.statuses.is_empty()
            && self.nameservers.is_empty()
            && self.problems.is_empty()
    }

    fn add_status(&mut self, status: &str) {
        let status = clean(status);
        if !status.is_empty() && !self.statuses.contains(&status) && self.statuses.len() < MAX_LIST
        {
            self.statuses.push(status);
        }
    }

    fn add_nameserver(&mut self, name: &str) {
        let name = clean(name).trim_end_matches('.').to_lowercase();
        if !name.is_empty()
            && !self.nameservers.contains(&name)
            && self.nameservers.len() < MAX_LIST
        {
            self.nameservers.push(name);
        }
    }
}

/// Trims, drops control characters and cuts a value to [`MAX_VALUE_CHARS`].
fn clean(value: &str) -> String {
    value
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Dates

/// Reads a registry date: RFC 3339 and ISO 8601 forms, `YYYY-MM-DD`, `DD-MM-YYYY`,
/// `DD/MM/YYYY`, `DD.MM.YYYY`, `YYYY/MM/DD`, `YYYYMMDD`, month names (`22-Jan-2030`,
/// `Jan 22 2030`, `22 January 2030`), each optionally followed by a time and a zone (`UTC`,
/// `GMT`, `Z`, `ICT`, `+07:00`). Without a zone, UTC. `None` if not understood.
pub fn parse_date(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Some(ts);
    }
    if let Some((date, time)) = t.split_once(' ')
        && let Ok(ts) = format!("{date}T{}", time.trim()).parse::<Timestamp>()
    {
        return Some(ts);
    }
    if !t.contains(['+', ' '])
        && !t.ends_with(['z', 'Z'])
        && let Ok(dt) = t.parse::<DateTime>()
    {
        return TimeZone::UTC.to_timestamp(dt).ok();
    }
    parse_loose(t)
}

/// The token-by-token reader behind [`parse_date`].
fn parse_loose(t: &str) -> Option<Timestamp> {
    let mut time: Option<(i8, i8, i8)> = None;
    let mut offset = Offset::UTC;
    let mut date_parts: Vec<&str> = Vec::new();
    for token in t.split(|c: char| c.is_whitespace() || c == ',') {
        let token = token.trim_matches(|c| c == '(' || c == ')');
        if token.is_empty() {
            continue;
        }
        let upper = token.to_ascii_uppercase();
        match upper.as_str() {
            "UTC" | "GMT" | "Z" => continue,
            "ICT" => {
                offset = Offset::constant(7);
                continue;
            }
            _ => {}
        }
        if (token.starts_with('+') || token.starts_with('-'))
            && token[1..].starts_with(|c: char| c.is_ascii_digit())
        {
            offset = parse_offset(token)?;
            continue;
        }
        if token.contains(':') {
            if time.is_some() {
                return None;
            }
            // `2030-01-22T04:00:00` followed by a separate zone.
            let (date, clock) = match token.split_once(['T', 't']) {
                Some((d, c)) if d.starts_with(|c: char| c.is_ascii_digit()) => (Some(d), c),
                _ => (None, token),
            };
            time = Some(parse_time(clock)?);
            date_parts.extend(date.into_iter().flat_map(|d| d.split(['-', '/', '.'])));
            continue;
        }
        if is_weekday(&upper) {
            continue;
        }
        date_parts.extend(token.split(['-', '/', '.']).filter(|p| !p.is_empty()));
    }
    let date = date_from_parts(&date_parts)?;
    let (h, m, s) = time.unwrap_or((0, 0, 0));
    let dt = date.to_datetime(Time::new(h, m, s, 0).ok()?);
    offset.to_timestamp(dt).ok()
}

fn parse_offset(token: &str) -> Option<Offset> {
    let sign: i32 = if token.starts_with('-') { -1 } else { 1 };
    let digits: String = token[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

fn parse_time(token: &str) -> Option<(i8, i8, i8)> {
    let token = token.trim_end_matches(['Z', 'z']);
    let number = |p: &str| -> Option<i8> {
        (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let mut parts = token.split(':');
    let h = number(parts.next()?)?;
    let m = number(parts.next()?)?;
    let s = match parts.next() {
        Some(sec) => number(sec.split(['.', ',']).next()?)?,
        None => 0,
    };
    if parts.next().is_some() || !(0..24).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    // A leap second (":60") is read as the last second of the minute.
    Some((h, m, s.clamp(0, 59)))
}

fn is_weekday(upper: &str) -> bool {
    const DAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    upper.len() >= 3 && DAYS.iter().any(|d| upper.starts_with(d)) && month(upper).is_none()
}

/// The month number of an English month name or its three-letter abbreviation.
fn month(word: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "JANUARY",
        "FEBRUARY",
        "MARCH",
        "APRIL",
        "MAY",
        "JUNE",
        "JULY",
        "AUGUST",
        "SEPTEMBER",
        "OCTOBER",
        "NOVEMBER",
        "DECEMBER",
    ];
    let upper = word.to_ascii_uppercase();
    if upper.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&upper))
        .and_then(|i| i8::try_from(i + 1).ok())
}

fn date_from_parts(parts: &[&str]) -> Option<Date> {
    let numeric = |p: &str| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() && p.len() <= 8;
    match parts {
        [one] if one.len() == 8 && numeric(one) => {
            let y = one[..4].parse().ok()?;
            let m = one[4..6].parse().ok()?;
            let d = one[6..].parse().ok()?;
            Date::new(y, m, d).ok()
        }
        [a, b, c] if numeric(a) && numeric(b) && numeric(c) => {
            let (a4, c4) = (a.len() == 4, c.len() == 4);
            let (x, y, z): (i16, i16, i16) = (a.parse().ok()?, b.parse().ok()?, c.parse().ok()?);
            if a4 && b.len() <= 2 && c.len() <= 2 {
                date(x, y, z)
            } else if c4 && a.len() <= 2 && b.len() <= 2 {
                // Day first unless the second number cannot be a month (US order).
                if y > 12 { date(z, x, y) } else { date(z, y, x) }
            } else {
                None
            }
        }
        [a, b, c] => {
            // One part is a month name; of the two numbers, the four-digit one is the year.
            let names: Vec<(usize, i8)> = [a, b, c]
                .iter()
                .enumerate()
                .filter_map(|(i, p)| month(p).map(|m| (i, m)))
                .collect();
            let [(at, m)] = names.as_slice() else {
                return None;
            };
            let nums: Vec<&str> = [a, b, c]
                .iter()
                .enumerate()
                .filter(|(i, _)| i != at)
                .map(|(_, p)| **p)
                .collect();
            if !nums.iter().all(|p| numeric(p)) {
                return None;
            }
            let (year, day) = match (nums[0].len(), nums[1].len()) {
                (4, 1 | 2) => (nums[0], nums[1]),
                (1 | 2, 4) => (nums[1], nums[0]),
                _ => return None,
            };
            date(year.parse().ok()?, i16::from(*m), day.parse().ok()?)
        }
        _ => None,
    }
}

fn date(year: i16, month: i16, day: i16) -> Option<Date> {
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

// ---------------------------------------------------------------------------------------------
// WHOIS

/// What a WHOIS field means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// Expiry date; the number ranks synonyms (lower wins).
    Expires(u8),
    /// Registration date, ranked like `Expires`.
    Created(u8),
    Registrar,
    Status,
    NameServer,
}

/// Field names, folded (see [`fold`]): ICANN's registry and registrar formats, common ccTLD
/// forms, and VNNIC's English and Vietnamese labels (unverified: see the module `whois`).
const FIELDS: &[(&str, Field)] = &[
    ("registry expiry date", Field::Expires(0)),
    ("expiration date", Field::Expires(1)),
    ("expiry date", Field::Expires(1)),
    ("expired date", Field::Expires(1)),
    ("expire date", Field::Expires(1)),
    ("expires on", Field::Expires(1)),
    ("expires", Field::Expires(1)),
    ("expire", Field::Expires(1)),
    ("expiration time", Field::Expires(1)),
    ("record expires on", Field::Expires(1)),
    ("paid-till", Field::Expires(1)),
    ("ngay het han", Field::Expires(1)),
    ("registrar registration expiration date", Field::Expires(2)),
    ("creation date", Field::Created(0)),
    ("created", Field::Created(1)),
    ("created on", Field::Created(1)),
    ("created date", Field::Created(1)),
    ("registration date", Field::Created(1)),
    ("registration time", Field::Created(1)),
    ("registered on", Field::Created(1)),
    ("registered", Field::Created(1)),
    ("record created on", Field::Created(1)),
    ("domain registration date", Field::Created(1)),
    ("issue date", Field::Created(1)),
    ("issued date", Field::Created(1)),
    ("ngay dang ky", Field::Created(1)),
    ("ngay cap", Field::Created(1)),
    ("registrar", Field::Registrar),
    ("registrar name", Field::Registrar),
    ("sponsoring registrar", Field::Registrar),
    ("nha dang ky", Field::Registrar),
    ("nha dang ky quan ly", Field::Registrar),
    ("ten nha dang ky", Field::Registrar),
    ("domain status", Field::Status),
    ("status", Field::Status),
    ("trang thai", Field::Status),
    ("trang thai ten mien", Field::Status),
    ("name server", Field::NameServer),
    ("name servers", Field::NameServer),
    ("nameserver", Field::NameServer),
    ("nameservers", Field::NameServer),
    ("nserver", Field::NameServer),
    ("dns", Field::NameServer),
    ("may chu ten mien", Field::NameServer),
];

/// Phrases of "no such domain" answers, folded; looked for only when no field was recognised.
const NOT_FOUND: &[&str] = &[
    "no match",
    "not found",
    "no data found",
    "no entries found",
    "no matching record",
    "no object found",
    "is available for registration",
    "status: free",
    "status: available",
    "khong tim thay",
    "chua duoc dang ky",
    "khong ton tai",
];

/// The ASCII letter a Vietnamese (or other Latin) letter with diacritics is based on.
fn base_letter(c: char) -> Option<char> {
    const GROUPS: [(char, &str); 7] = [
        ('a', "àáảãạăằắẳẵặâầấẩẫậä"),
        ('e', "èéẻẽẹêềếểễệë"),
        ('i', "ìíỉĩịï"),
        ('o', "òóỏõọôồốổỗộơờớởỡợö"),
        ('u', "ùúủũụưừứửữựü"),
        ('y', "ỳýỷỹỵ"),
        ('d', "đ"),
    ];
    GROUPS
        .iter()
        .find(|(_, letters)| letters.contains(c))
        .map(|(base, _)| *base)
}

/// Folds a label for matching: lower case, Vietnamese diacritics removed (precomposed or
/// combining), runs of white space as one space, trailing dots and spaces removed
/// (`Expiration Date.....` is `expiration date`).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        if ('\u{300}'..='\u{36f}').contains(&c) {
            continue;
        }
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(base_letter(c).unwrap_or(c));
    }
    out.trim_end_matches(['.', ' ']).to_string()
}

fn field(key: &str) -> Option<Field> {
    let key = fold(key);
    let key = key
        .trim_start_matches(['[', ' '])
        .trim_end_matches([']', ' ']);
    FIELDS.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
}

/// The outcome of reading a WHOIS answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhoisText {
    /// A registration record (possibly with problems).
    Record(Registration),
    /// The server said there is no such domain.
    NotFound,
    /// Nothing recognisable.
    Unrecognised,
}

/// Reads a WHOIS answer (see [`FIELDS`] for the names understood). Lines may end in CRLF or LF,
/// `key: value` may have any spacing, comments (`%`, `#`, `>>>`) are skipped, and a field with
/// an empty value may continue on the following indented lines (`Name servers:` then one per
/// line, as some registries write them).
pub fn whois_text(text: &str) -> WhoisText {
    let mut reg = Registration::default();
    let mut expires: Vec<(u8, String)> = Vec::new();
    let mut created: Vec<(u8, String)> = Vec::new();
    let mut continuing: Option<Field> = None;
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continuing = None;
            continue;
        }
        if trimmed.starts_with('%') || trimmed.starts_with('#') || trimmed.starts_with(">>>") {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if let Some(f) = continuing {
            if indented {
                match f {
                    Field::NameServer if !trimmed.contains(": ") => {
                        add_nameservers(&mut reg, trimmed);
                        continue;
                    }
                    Field::Registrar => {
                        let name = trimmed
                            .split_once(':')
                            .filter(|(k, _)| fold(k) == "name")
                            .map_or(trimmed, |(_, v)| v);
                        if reg.registrar.is_none() && !clean(name).is_empty() {
                            reg.registrar = Some(clean(name));
                        }
                        continuing = None;
                        continue;
                    }
                    _ => {}
                }
            }
            continuing = None;
        }
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        if key.chars().count() > 60 {
            continue;
        }
        let Some(f) = field(key) else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            if matches!(f, Field::NameServer | Field::Registrar) {
                continuing = Some(f);
            }
            continue;
        }
        match f {
            Field::Expires(rank) => expires.push((rank, clean(value))),
            Field::Created(rank) => created.push((rank, clean(value))),
            Field::Registrar => {
                if reg.registrar.is_none() {
                    reg.registrar = Some(clean(value));
                }
            }
            Field::Status => add_statuses(&mut reg, value),
            Field::NameServer => add_nameservers(&mut reg, value),
        }
    }
    reg.expires = pick_date(&mut expires, "expiry date", &mut reg.problems);
    reg.created = pick_date(&mut created, "registration date", &mut reg.problems);
    if !reg.is_empty() {
        return WhoisText::Record(reg);
    }
    let folded = fold(text);
    if NOT_FOUND.iter().any(|p| folded.contains(p)) {
        WhoisText::NotFound
    } else {
        WhoisText::Unrecognised
    }
}

/// The best-ranked candidate that parses; a problem if some were given and none parses.
fn pick_date(
    candidates: &mut [(u8, String)],
    what: &str,
    problems: &mut Vec<String>,
) -> Option<Timestamp> {
    candidates.sort_by_key(|(rank, _)| *rank);
    if let Some(ts) = candidates.iter().find_map(|(_, v)| parse_date(v)) {
        return Some(ts);
    }
    if let Some((_, v)) = candidates.first() {
        problems.push(format!("{what} {v:?} not understood"));
    }
    None
}

/// Adds `clientHold`, `clientHold https://icann.org/epp#clientHold`, or a comma-separated list
/// of statuses.
fn add_statuses(reg: &mut Registration, value: &str) {
    for part in value.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            [code, rest, ..] if rest.starts_with("http") || rest.starts_with('(') => {
                reg.add_status(code);
            }
            _ => reg.add_status(part),
        }
    }
}

/// Adds name servers from `ns1.example.vn`, `ns1.example.vn 192.0.2.1`, or a list separated by
/// commas or spaces; IP addresses are left out.
fn add_nameservers(reg: &mut Registration, value: &str) {
    for token in value.split(|c: char| c == ',' || c.is_whitespace()) {
        let token = token.trim_matches(|c| c == '(' || c == ')' || c == '[' || c == ']');
        if token.contains('.')
            && !token.contains(['@', '/'])
            && token
                .trim_end_matches('.')
                .parse::<std::net::IpAddr>()
                .is_err()
        {
            reg.add_nameserver(token);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RDAP

/// Why an RDAP answer gave no registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdapProblem {
    /// An RDAP error object with `errorCode` 404.
    NotFound,
    /// Not JSON, not a domain object, or an error object other than 404.
    Unparseable(String),
}

/// Reads an RDAP domain object (RFC 9083 section 5.3): `events` (`registration`,
/// `expiration`), `status`, the entity with the `registrar` role (its vCard `fn`, else its
/// handle) and `nameservers` (`ldhName`, else `unicodeName`).
pub fn rdap_domain(body: &[u8]) -> Result<Registration, RdapProblem> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| RdapProblem::Unparseable(format!("the RDAP answer is not JSON: {e}")))?;
    let Some(obj) = doc.as_object() else {
        return Err(RdapProblem::Unparseable(
            "the RDAP answer is not a JSON object".into(),
        ));
    };
    if let Some(code) = obj.get("errorCode") {
        let title = obj.get("title").and_then(Value::as_str).unwrap_or("");
        return if code.as_u64() == Some(404) {
            Err(RdapProblem::NotFound)
        } else {
            Err(RdapProblem::Unparseable(format!(
                "the RDAP server answered error {code} {}",
                clean(title)
            )))
        };
    }
    let class = obj.get("objectClassName").and_then(Value::as_str);
    let is_domain = match class {
        Some(c) => c.eq_ignore_ascii_case("domain"),
        None => obj.contains_key("ldhName") || obj.contains_key("unicodeName"),
    };
    if !is_domain {
        return Err(RdapProblem::Unparseable(format!(
            "the RDAP answer is not a domain object (objectClassName {})",
            class.map_or("missing".into(), |c| format!("{:?}", clean(c)))
        )));
    }

    let mut reg = Registration::default();
    for event in array(obj.get("events")) {
        let action = event.get("eventAction").and_then(Value::as_str);
        let date = event.get("eventDate").and_then(Value::as_str);
        let (slot, what) = match action {
            Some("registration") => (&mut reg.created, "registration date"),
            Some("expiration") => (&mut reg.expires, "expiration date"),
            _ => continue,
        };
        if slot.is_some() {
            continue;
        }
        match date.map(|d| (d, parse_date(d))) {
            Some((_, Some(ts))) => *slot = Some(ts),
            Some((d, None)) => reg
                .problems
                .push(format!("RDAP {what} {d:?} not understood")),
            None => reg
                .problems
                .push(format!("RDAP {what} event without an eventDate")),
        }
    }
    for status in array(obj.get("status")) {
        if let Some(s) = status.as_str() {
            reg.add_status(&epp_style(s));
        }
    }
    for entity in array(obj.get("entities")) {
        let registrar = array(entity.get("roles")).any(|r| {
            r.as_str()
                .is_some_and(|r| r.eq_ignore_ascii_case("registrar"))
        });
        if registrar && reg.registrar.is_none() {
            reg.registrar = vcard_fn(entity)
                .or_else(|| entity.get("handle").and_then(Value::as_str))
                .map(clean)
                .filter(|s| !s.is_empty());
        }
    }
    for ns in array(obj.get("nameservers")) {
        if let Some(name) = ns
            .get("ldhName")
            .or_else(|| ns.get("unicodeName"))
            .and_then(Value::as_str)
        {
            reg.add_nameserver(name);
        }
    }
    Ok(reg)
}

fn array(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// The formatted name of a jCard (RFC 7095): `["vcard", [["fn", {}, "text", "Name"], ...]]`.
fn vcard_fn(entity: &Value) -> Option<&str> {
    let card = entity.get("vcardArray")?.as_array()?;
    array(card.get(1))
        .filter_map(Value::as_array)
        .find(|prop| prop.first().and_then(Value::as_str) == Some("fn"))
        .and_then(|prop| prop.get(3))
        .and_then(Value::as_str)
}

/// `client transfer prohibited` -> `clientTransferProhibited`; one word stays as it is.
pub fn epp_style(status: &str) -> String {
    let words: Vec<&str> = status.split_whitespace().collect();
    if words.len() < 2 {
        return status.trim().to_string();
    }
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        let lower = w.to_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

/// The RDAP bootstrap registry for domain names (RFC 9224).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bootstrap {
    /// Each service: the labels it serves (`vn`, `com`...) and its base URLs.
    pub services: Vec<(Vec<String>, Vec<String>)>,
}

impl Bootstrap {
    /// The base URLs serving `name`: the entry matching the most labels at the end of the name
    /// (RFC 9224 section 4), `https` URLs first. `None` when no entry matches.
    pub fn base_urls(&self, name: &str) -> Option<Vec<String>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut best: Option<(usize, &Vec<String>)> = None;
        for (labels, urls) in &self.services {
            for label in labels {
                let label = label.trim_matches('.').to_ascii_lowercase();
                let matches =
                    !label.is_empty() && (name == label || name.ends_with(&format!(".{label}")));
                let depth = label.split('.').count();
                if matches && !urls.is_empty() && best.is_none_or(|(d, _)| depth > d) {
                    best = Some((depth, urls));
                }
            }
        }
        let mut urls = best?.1.clone();
        urls.sort_by_key(|u| !u.starts_with("https://"));
        Some(urls)
    }
}

/// Reads a bootstrap registry: `{"services": [[["com", "net"], ["https://..."]], ...]}`.
pub fn bootstrap(body: &[u8]) -> Result<Bootstrap, String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the RDAP bootstrap registry is not JSON: {e}"))?;
    let services = doc
        .get("services")
        .and_then(Value::as_array)
        .ok_or("the RDAP bootstrap registry has no \"services\" array")?;
    let strings = |v: Option<&Value>| -> Vec<String> {
        array(v)
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let services = services
        .iter()
        .map(|entry| (strings(entry.get(0)), strings(entry.get(1))))
        .filter(|(labels, urls)| !labels.is_empty() && !urls.is_empty())
        .collect();
    Ok(Bootstrap { services })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn dates_in_many_forms() {
        let cases = [
            ("2030-01-22T04:00:00Z", "2030-01-22T04:00:00Z"),
            ("2030-01-22T04:00:00.000Z", "2030-01-22T04:00:00Z"),
            ("2030-01-22T04:00:00+07:00", "2030-01-21T21:00:00Z"),
            ("2030-01-22 04:00:00+07:00", "2030-01-21T21:00:00Z"),
            ("2030-01-22T04:00:00", "2030-01-22T04:00:00Z"),
            ("2030-01-22 04:00:00", "2030-01-22T04:00:00Z"),
            ("2030-01-22 04:00:00 UTC", "2030-01-22T04:00:00Z"),
            ("2030-01-22 04:00:00 (UTC)", "2030-01-22T04:00:00Z"),
            ("2030-01-22 04:00:00 ICT", "2030-01-21T21:00:00Z"),
            ("2030-01-22 04:00:00 +0700", "2030-01-21T21:00:00Z"),
            ("2030-01-22T04:00:00 +07:00", "2030-01-21T21:00:00Z"),
            ("2030-01-22T04:00:00 UTC", "2030-01-22T04:00:00Z"),
            ("2030-01-22", "2030-01-22T00:00:00Z"),
            ("2030/01/22", "2030-01-22T00:00:00Z"),
            ("2030.01.22", "2030-01-22T00:00:00Z"),
            ("20300122", "2030-01-22T00:00:00Z"),
            ("22-01-2030", "2030-01-22T00:00:00Z"),
            ("22/01/2030", "2030-01-22T00:00:00Z"),
            ("22.01.2030", "2030-01-22T00:00:00Z"),
            ("01-02-2030", "2030-02-01T00:00:00Z"),
            ("02/13/2030", "2030-02-13T00:00:00Z"),
            ("22-01-2030 10:30:00", "2030-01-22T10:30:00Z"),
            ("22/01/2030 10:30", "2030-01-22T10:30:00Z"),
            ("22-Jan-2030", "2030-01-22T00:00:00Z"),
            ("22-JAN-2030 04:00:00 UTC", "2030-01-22T04:00:00Z"),
            ("22 January 2030", "2030-01-22T00:00:00Z"),
            ("Jan 22 2030", "2030-01-22T00:00:00Z"),
            ("January 22, 2030", "2030-01-22T00:00:00Z"),
            ("Tue Jan 22 04:00:00 GMT 2030", "2030-01-22T04:00:00Z"),
            ("2030-Jan-22", "2030-01-22T00:00:00Z"),
            ("  2030-01-22  ", "2030-01-22T00:00:00Z"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_date(text), Some(ts(want)), "{text:?}");
        }
    }

    #[test]
    fn not_dates() {
        for text in [
            "",
            "never",
            "31st of Never",
            "2030-13-01",
            "31-02-2030",
            "2030-01",
            "22-01-30",
            "13/13/2030",
            "2030-01-22 25:00:00",
            "Jan Feb 2030",
            "12345",
            "2030-01-22 04:00:00 +99:00",
        ] {
            assert_eq!(parse_date(text), None, "{text:?}");
        }
    }

    #[test]
    fn folding() {
        assert_eq!(fold("  Ngày   Hết Hạn "), "ngay het han");
        assert_eq!(fold("Nhà đăng ký quản lý"), "nha dang ky quan ly");
        // Decomposed (NFD) letters fold the same way.
        assert_eq!(
            fold("Nga\u{300}y he\u{302}\u{301}t ha\u{323}n"),
            "ngay het han"
        );
        assert_eq!(fold("Expiration Date......."), "expiration date");
        assert_eq!(fold("TRẠNG THÁI"), "trang thai");
    }

    /// An ICANN-style thick registry record (the format of the 2013 RAA and the registry
    /// agreements' Specification 4), as Verisign and PIR serve it.
    const ICANN_RECORD: &str = "   Domain Name: EXAMPLE.COM\r\n\
   Registry Domain ID: 2336799_DOMAIN_COM-VRSN\r\n\
   Registrar WHOIS Server: whois.example-registrar.com\r\n\
   Registrar URL: http://www.example-registrar.com\r\n\
   Updated Date: 2025-08-14T07:01:39Z\r\n\
   Creation Date: 1995-08-14T04:00:00Z\r\n\
   Registry Expiry Date: 2030-08-13T04:00:00Z\r\n\
   Registrar: Example Registrar, Inc.\r\n\
   Registrar IANA ID: 376\r\n\
   Registrar Abuse Contact Email: abuse@example-registrar.com\r\n\
   Registrar Abuse Contact Phone: +1.2025550100\r\n\
   Domain Status: clientDeleteProhibited https://icann.org/epp#clientDeleteProhibited\r\n\
   Domain Status: clientHold https://icann.org/epp#clientHold\r\n\
   Domain Status: clientTransferProhibited https://icann.org/epp#clientTransferProhibited\r\n\
   Name Server: A.IANA-SERVERS.NET\r\n\
   Name Server: B.IANA-SERVERS.NET\r\n\
   DNSSEC: signedDelegation\r\n\
   URL of the ICANN Whois Inaccuracy Complaint Form: https://www.icann.org/wicf/\r\n\
>>> Last update of whois database: 2026-11-02T09:12:44Z <<<\r\n\
\r\n\
For more information on Whois status codes, please visit https://icann.org/epp\r\n\
\r\n\
NOTICE: The expiration date displayed in this record is the date the\r\n\
registrar's sponsorship of the domain name registration in the registry is\r\n\
currently set to expire.\r\n";

    /// A record in the layout of VNNIC's public lookup (labels as its English page shows
    /// them; unverified against a port-43 service, which VNNIC does not offer publicly).
    const VNNIC_RECORD: &str = "Domain Name: dongnai.gov.vn\n\
Registrant Name: Văn phòng Ủy ban nhân dân tỉnh Đồng Nai\n\
Registrar Name: Trung tâm Internet Việt Nam (VNNIC)\n\
Issue Date: 15-03-2004\n\
Expired Date: 22-01-2030\n\
Status: clientTransferProhibited\n\
Status: clientDeleteProhibited\n\
Name Server: ns1.dongnai.gov.vn\n\
Name Server: ns2.dongnai.gov.vn\n\
DNSSEC: signedDelegation\n";

    #[test]
    fn icann_record() {
        let WhoisText::Record(r) = whois_text(ICANN_RECORD) else {
            panic!("not a record");
        };
        assert_eq!(r.registrar.as_deref(), Some("Example Registrar, Inc."));
        assert_eq!(r.created, Some(ts("1995-08-14T04:00:00Z")));
        assert_eq!(r.expires, Some(ts("2030-08-13T04:00:00Z")));
        assert_eq!(
            r.statuses,
            [
                "clientDeleteProhibited",
                "clientHold",
                "clientTransferProhibited"
            ]
        );
        assert_eq!(r.nameservers, ["a.iana-servers.net", "b.iana-servers.net"]);
        assert!(r.problems.is_empty());
    }

    #[test]
    fn vnnic_record() {
        let WhoisText::Record(r) = whois_text(VNNIC_RECORD) else {
            panic!("not a record");
        };
        assert_eq!(
            r.registrar.as_deref(),
            Some("Trung tâm Internet Việt Nam (VNNIC)")
        );
        assert_eq!(r.created, Some(ts("2004-03-15T00:00:00Z")));
        assert_eq!(r.expires, Some(ts("2030-01-22T00:00:00Z")));
        assert_eq!(
            r.statuses,
            ["clientTransferProhibited", "clientDeleteProhibited"]
        );
        assert_eq!(r.nameservers, ["ns1.dongnai.gov.vn", "ns2.dongnai.gov.vn"]);
    }

    #[test]
    fn vietnamese_labels_and_odd_spacing() {
        let text = "Tên miền :   sct.vn\r\n\
            Ngày đăng ký:2004-03-15\r\n\
            NGÀY HẾT HẠN   :   2030/01/22\r\n\
            Nhà đăng ký quản lý:\tCông ty TNHH PA Việt Nam\r\n\
            Trạng thái: clientHold, clientTransferProhibited\r\n\
            Máy chủ tên miền: ns1.pavietnam.vn, ns2.pavietnam.vn\r\n";
        let WhoisText::Record(r) = whois_text(text) else {
            panic!("not a record");
        };
        assert_eq!(r.expires, Some(ts("2030-01-22T00:00:00Z")));
        assert_eq!(r.created, Some(ts("2004-03-15T00:00:00Z")));
        assert_eq!(r.registrar.as_deref(), Some("Công ty TNHH PA Việt Nam"));
        assert_eq!(r.statuses, ["clientHold", "clientTransferProhibited"]);
        assert_eq!(r.nameservers, ["ns1.pavietnam.vn", "ns2.pavietnam.vn"]);
    }

    #[test]
    fn indented_continuations() {
        let text = "    Domain name:\n        example.uk\n\n    Registrar:\n        Example Ltd [Tag = EXAMPLE]\n        URL: https://example.uk\n\n    Relevant dates:\n        Registered on: 04-Feb-2005\n        Expiry date:  04-Feb-2031\n\n    Name servers:\n        ns1.example.uk\n        ns2.example.uk    192.0.2.53\n\n";
        let WhoisText::Record(r) = whois_text(text) else {
            panic!("not a record");
        };
        assert_eq!(r.registrar.as_deref(), Some("Example Ltd [Tag = EXAMPLE]"));
        assert_eq!(r.created, Some(ts("2005-02-04T00:00:00Z")));
        assert_eq!(r.expires, Some(ts("2031-02-04T00:00:00Z")));
        assert_eq!(r.nameservers, ["ns1.example.uk", "ns2.example.uk"]);
    }

    #[test]
    fn registry_expiry_wins_over_registrar_expiry() {
        let text = "Registrar Registration Expiration Date: 2031-01-01T00:00:00Z\nRegistry Expiry Date: 2030-01-01T00:00:00Z\n";
        let WhoisText::Record(r) = whois_text(text) else {
            panic!("not a record");
        };
        assert_eq!(r.expires, Some(ts("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn bad_dates_are_problems() {
        let text = "Domain Name: example.vn\nExpired Date: 31st of Never\nStatus: ok\n";
        let WhoisText::Record(r) = whois_text(text) else {
            panic!("not a record");
        };
        assert_eq!(r.expires, None);
        assert_eq!(r.problems, ["expiry date \"31st of Never\" not understood"]);
        assert_eq!(r.statuses, ["ok"]);
    }

    #[test]
    fn not_found_and_garbage() {
        assert_eq!(
            whois_text(
                "No match for \"NOPE.COM\".\r\n>>> Last update of whois database: 2026-11-02T09:12:44Z <<<\r\n"
            ),
            WhoisText::NotFound
        );
        assert_eq!(
            whois_text("% No entries found for the selected source(s).\nNo entries found\n"),
            WhoisText::NotFound
        );
        assert_eq!(
            whois_text("Tên miền này chưa được đăng ký\n"),
            WhoisText::NotFound
        );
        assert_eq!(whois_text(""), WhoisText::Unrecognised);
        assert_eq!(
            whois_text("<html><body>Service temporarily unavailable</body></html>"),
            WhoisText::Unrecognised
        );
        assert_eq!(
            whois_text("\u{0}\u{1}\u{2}::::\n:\n"),
            WhoisText::Unrecognised
        );
    }

    /// A domain object in the shape Verisign's RDAP service returns (abridged).
    const RDAP_DOMAIN: &str = r#"{
      "objectClassName": "domain",
      "handle": "2336799_DOMAIN_COM-VRSN",
      "ldhName": "EXAMPLE.COM",
      "links": [{"value": "https://rdap.example/domain/EXAMPLE.COM", "rel": "self",
                 "href": "https://rdap.example/domain/EXAMPLE.COM", "type": "application/rdap+json"}],
      "status": ["client delete prohibited", "client hold", "client transfer prohibited"],
      "entities": [
        {"objectClassName": "entity", "handle": "376", "roles": ["registrar"],
         "publicIds": [{"type": "IANA Registrar ID", "identifier": "376"}],
         "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Registrar, Inc."]]],
         "entities": [{"objectClassName": "entity", "roles": ["abuse"],
           "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Abuse desk"]]]}]}
      ],
      "events": [
        {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
        {"eventAction": "expiration", "eventDate": "2030-08-13T04:00:00Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-11-02T09:12:44Z"}
      ],
      "secureDNS": {"delegationSigned": true},
      "nameservers": [
        {"objectClassName": "nameserver", "ldhName": "A.IANA-SERVERS.NET"},
        {"objectClassName": "nameserver", "ldhName": "B.IANA-SERVERS.NET."}
      ],
      "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_1"],
      "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}]
    }"#;

    #[test]
    fn rdap_domain_object() {
        let r = rdap_domain(RDAP_DOMAIN.as_bytes()).unwrap();
        assert_eq!(r.registrar.as_deref(), Some("Example Registrar, Inc."));
        assert_eq!(r.created, Some(ts("1995-08-14T04:00:00Z")));
        assert_eq!(r.expires, Some(ts("2030-08-13T04:00:00Z")));
        assert_eq!(
            r.statuses,
            [
                "clientDeleteProhibited",
                "clientHold",
                "clientTransferProhibited"
            ]
        );
        assert_eq!(r.nameservers, ["a.iana-servers.net", "b.iana-servers.net"]);
        assert!(r.problems.is_empty());
    }

    #[test]
    fn rdap_odd_answers() {
        assert_eq!(
            rdap_domain(br#"{"errorCode": 404, "title": "Not Found"}"#),
            Err(RdapProblem::NotFound)
        );
        assert!(matches!(
            rdap_domain(br#"{"errorCode": 500, "title": "Oops"}"#),
            Err(RdapProblem::Unparseable(_))
        ));
        assert!(
            matches!(rdap_domain(b"{\"objectClassName\": \"dom"), Err(RdapProblem::Unparseable(m)) if m.contains("not JSON"))
        );
        assert!(matches!(
            rdap_domain(b"[]"),
            Err(RdapProblem::Unparseable(_))
        ));
        assert!(matches!(
            rdap_domain(br#"{"objectClassName": "entity", "handle": "X"}"#),
            Err(RdapProblem::Unparseable(m)) if m.contains("\"entity\"")
        ));
        // A minimal domain object: nothing but its name.
        assert_eq!(
            rdap_domain(br#"{"ldhName": "example.vn"}"#),
            Ok(Registration::default())
        );
        // Wrong types everywhere are ignored, a bad date is a problem.
        let r = rdap_domain(
            br#"{"objectClassName": "domain", "status": [1, null, "active"], "entities": {"x": 1},
                 "events": [{"eventAction": "expiration", "eventDate": "soon"}, 7],
                 "nameservers": [{"ldhName": 5}, "ns"]}"#,
        )
        .unwrap();
        assert_eq!(r.statuses, ["active"]);
        assert_eq!(r.problems, ["RDAP expiration date \"soon\" not understood"]);
        // A registrar without a vCard is named by its handle.
        let r = rdap_domain(
            br#"{"objectClassName": "domain", "entities": [{"roles": ["technical"], "handle": "T"}, {"roles": ["REGISTRAR"], "handle": "R-1"}]}"#,
        )
        .unwrap();
        assert_eq!(r.registrar.as_deref(), Some("R-1"));
    }

    #[test]
    fn epp_names() {
        assert_eq!(epp_style("client hold"), "clientHold");
        assert_eq!(
            epp_style("server transfer prohibited"),
            "serverTransferProhibited"
        );
        assert_eq!(epp_style("auto renew period"), "autoRenewPeriod");
        assert_eq!(epp_style("active"), "active");
        assert_eq!(epp_style("clientHold"), "clientHold");
    }

    #[test]
    fn bootstrap_registry() {
        let b = bootstrap(
            br#"{"version": "1.0", "publication": "2026-10-01T00:00:00Z", "description": "x",
                 "services": [
                   [["com", "net"], ["http://rdap.example/com/", "https://rdap.example/com/"]],
                   [["vn"], ["https://rdap.vn.example/"]],
                   [["gov.vn"], ["https://rdap.gov.vn.example/"]],
                   [["org"], []],
                   "junk"
                 ]}"#,
        )
        .unwrap();
        assert_eq!(
            b.base_urls("example.com").unwrap(),
            ["https://rdap.example/com/", "http://rdap.example/com/"]
        );
        assert_eq!(
            b.base_urls("dongnai.gov.vn").unwrap(),
            ["https://rdap.gov.vn.example/"]
        );
        assert_eq!(
            b.base_urls("chinhphu.vn").unwrap(),
            ["https://rdap.vn.example/"]
        );
        assert_eq!(b.base_urls("example.org"), None);
        assert_eq!(b.base_urls("example.xn--vn"), None);
        assert_eq!(b.base_urls("examplecom"), None);
        assert!(bootstrap(b"{}").is_err());
        assert!(bootstrap(b"not json").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn dates_never_panic(text in "\\PC{0,80}") {
            let _ = parse_date(&text);
        }

        #[test]
        fn date_like_text_never_panics(text in "[0-9A-Za-z:+./ ,()-]{0,40}") {
            let _ = parse_date(&text);
        }

        #[test]
        fn whois_never_panics(text in "\\PC{0,400}") {
            let _ = whois_text(&text);
        }

        #[test]
        fn whois_like_text_never_panics(
            lines in proptest::collection::vec(
                ("(Registry Expiry Date|Expired Date|Ngày hết hạn|Status|Name Server|Registrar|Creation Date| {0,3}[a-z ]{0,12})",
                 "[ \t]{0,3}:?[ \t]{0,3}",
                 "[\\PC]{0,30}"),
                0..20)
        ) {
            let text: String = lines.iter().map(|(k, s, v)| format!("{k}{s}{v}\r\n")).collect();
            if let WhoisText::Record(r) = whois_text(&text) {
                prop_assert!(r.statuses.len() <= MAX_LIST && r.nameservers.len() <= MAX_LIST);
            }
        }

        #[test]
        fn rdap_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = rdap_domain(&bytes);
            let _ = bootstrap(&bytes);
        }

        #[test]
        fn rdap_json_never_panics(json in arb_json()) {
            let text = json.to_string();
            let _ = rdap_domain(text.as_bytes());
            if let Ok(b) = bootstrap(text.as_bytes()) {
                let _ = b.base_urls("example.gov.vn");
            }
            // The same values placed where a domain object has them.
            let doc = serde_json::json!({
                "objectClassName": "domain", "events": json.clone(), "status": json.clone(),
                "entities": json.clone(), "nameservers": json.clone(),
            });
            let _ = rdap_domain(doc.to_string().as_bytes());
        }
    }

    /// Arbitrary JSON values, biased towards the names RDAP uses.
    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "(registration|expiration|registrar|fn|vcard|domain|2030-01-22T00:00:00Z|\\PC{0,12})"
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(
                    "(eventAction|eventDate|roles|vcardArray|ldhName|handle|services|errorCode|[a-z]{1,6})",
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
