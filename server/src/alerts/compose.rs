//! Writing the messages: the holiday letter of one agency, the province-wide summary for the
//! security staff, and the recommendations template an administrator edits. Every message has
//! a plain-text body and an HTML body saying the same thing; text is Vietnamese with full
//! diacritics, dates dd/mm/yyyy.

use canhgac_policies::calendar::HolidayBlock;
use jiff::civil::Date;

use super::facts::{AgencyFacts, vietnam_day};
use super::holiday::Reminder;
use crate::store::{Batch, Store, StoreError, Table};

/// Where the recommendations template is stored (table `alerts`).
const RECOMMENDATIONS_KEY: &str = "settings/recommendations";

/// The recommendations sent when no administrator has written their own. Placeholders:
/// `{ky_nghi}` (the holiday's name), `{tu_ngay}`, `{den_ngay}` (its first and last day off),
/// `{co_quan}` (the agency).
pub const DEFAULT_RECOMMENDATIONS: &str = "\
Để bảo đảm an toàn thông tin trong thời gian nghỉ {ky_nghi} (từ ngày {tu_ngay} đến hết ngày {den_ngay}), đề nghị {co_quan}:
- Khắc phục ngay các điểm yếu nêu trên, ưu tiên các lỗi nghiêm trọng; gia hạn chứng thư số và tên miền sắp hết hạn.
- Phân công cán bộ trực, theo dõi hệ thống thông tin và trang/cổng thông tin điện tử trong suốt kỳ nghỉ; công bố đầu mối liên hệ khi có sự cố.
- Sao lưu dữ liệu và cấu hình trước kỳ nghỉ; kiểm tra khả năng khôi phục.
- Cập nhật bản vá cho hệ điều hành, máy chủ web và phần mềm quản trị nội dung; tắt các tài khoản và dịch vụ không sử dụng.
- Khi phát hiện tấn công, thay đổi giao diện hoặc nội dung lạ, báo ngay cho Sở Thông tin và Truyền thông để phối hợp ứng cứu.";

/// The recommendations template in force (the stored one, else the default).
pub fn recommendations(store: &dyn Store) -> Result<String, StoreError> {
    Ok(
        match store.get(Table::Alerts, RECOMMENDATIONS_KEY.as_bytes())? {
            Some(raw) => String::from_utf8_lossy(&raw).into_owned(),
            None => DEFAULT_RECOMMENDATIONS.to_owned(),
        },
    )
}

/// Stores an administrator's recommendations template (empty: back to the default).
pub fn set_recommendations(store: &dyn Store, text: &str) -> Result<(), StoreError> {
    let text = text.trim();
    let batch = if text.is_empty() {
        Batch::new().delete(Table::Alerts, RECOMMENDATIONS_KEY)
    } else {
        Batch::new().put(Table::Alerts, RECOMMENDATIONS_KEY, text.as_bytes().to_vec())
    };
    store.apply(batch)
}

/// A message's subject and bodies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Composed {
    /// Subject.
    pub subject: String,
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
}

/// dd/mm/yyyy.
pub fn dmy(d: Date) -> String {
    format!("{:02}/{:02}/{}", d.day(), d.month(), d.year())
}

/// Escapes text for HTML.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A body built as sections: the same content as text and as HTML.
#[derive(Default)]
pub struct Body {
    text: String,
    html: String,
}

impl Body {
    /// A paragraph.
    pub fn para(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push_str("\n\n");
        self.html.push_str("<p>");
        self.html.push_str(&esc(text).replace('\n', "<br>"));
        self.html.push_str("</p>\n");
    }

    /// A numbered heading and a list of lines (each may have indented sub-lines).
    pub fn section(&mut self, heading: &str, items: &[(String, Vec<String>)]) {
        self.text.push_str(heading);
        self.text.push('\n');
        self.html.push_str("<h3>");
        self.html.push_str(&esc(heading));
        self.html.push_str("</h3>\n<ul>\n");
        for (line, subs) in items {
            self.text.push_str("  - ");
            self.text.push_str(line);
            self.text.push('\n');
            self.html.push_str("<li>");
            self.html.push_str(&esc(line));
            if !subs.is_empty() {
                self.html.push_str("<ul>");
                for s in subs {
                    self.text.push_str("      + ");
                    self.text.push_str(s);
                    self.text.push('\n');
                    self.html.push_str("<li>");
                    self.html.push_str(&esc(s));
                    self.html.push_str("</li>");
                }
                self.html.push_str("</ul>");
            }
            self.html.push_str("</li>\n");
        }
        self.text.push('\n');
        self.html.push_str("</ul>\n");
    }

    /// The finished message.
    pub fn finish(self, subject: String) -> Composed {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family: sans-serif; line-height: 1.45\">\n{}<hr><p style=\"color:#555;font-size:90%\">Thư tự động từ canhgac (Sở Thông tin và Truyền thông). Automated message from canhgac.</p>\n</body></html>\n",
            esc(&subject),
            self.html
        );
        let text = format!(
            "{}--\nThư tự động từ canhgac (Sở Thông tin và Truyền thông). Automated message from canhgac.\n",
            self.text
        );
        Composed {
            subject,
            text,
            html,
        }
    }
}

fn fill(template: &str, block: &HolidayBlock, agency: &str) -> String {
    template
        .replace("{ky_nghi}", &block.name_vi)
        .replace("{tu_ngay}", &dmy(block.start))
        .replace("{den_ngay}", &dmy(block.end))
        .replace("{co_quan}", agency)
}

fn when(reminder: &Reminder, today: Date) -> String {
    let days = today.duration_until(reminder.block.start).as_hours() / 24;
    format!("còn {days} ngày")
}

/// One agency's letter before a holiday block.
pub fn holiday_letter(
    facts: &AgencyFacts,
    reminder: &Reminder,
    recommendations: &str,
    today: Date,
) -> Composed {
    let block = &reminder.block;
    let subject = format!(
        "[canhgac] Bảo đảm an toàn thông tin dịp nghỉ {} ({} - {}): {}",
        block.name_vi,
        dmy(block.start),
        dmy(block.end),
        facts.name
    );
    let mut b = Body::default();
    b.para(&format!("Kính gửi: {}", facts.name));
    b.para(&format!(
        "Kỳ nghỉ {} kéo dài {} ngày, từ ngày {} đến hết ngày {} ({}). Theo kết quả giám sát gần nhất của Sở Thông tin và Truyền thông, {} hệ thống thông tin của đơn vị có {}.",
        block.name_vi,
        block.days,
        dmy(block.start),
        dmy(block.end),
        when(reminder, today),
        facts.systems,
        if facts.all_clear() {
            "không có vấn đề cần xử lý trước kỳ nghỉ".to_owned()
        } else {
            "các vấn đề cần xử lý trước kỳ nghỉ dưới đây".to_owned()
        }
    ));
    let mut n = 0;
    let mut heading = |title: &str| {
        n += 1;
        format!("{n}. {title}")
    };
    if !facts.failing.is_empty() {
        let items: Vec<(String, Vec<String>)> = facts
            .failing
            .iter()
            .map(|s| {
                let mut line = format!(
                    "{} ({}): cấp độ {}, xếp hạng {}{}",
                    s.name,
                    s.url,
                    s.level,
                    s.grade,
                    if s.critical() {
                        " — NGHIÊM TRỌNG"
                    } else {
                        ""
                    }
                );
                if s.stale {
                    line.push_str(&format!(
                        "; kết quả quét đã cũ (lần quét gần nhất {})",
                        dmy(vietnam_day(s.scanned_at))
                    ));
                }
                let subs = s
                    .rules
                    .iter()
                    .map(|r| {
                        let mut t = format!("[{}] {}", r.severity, r.title_vi);
                        if !r.remediation_vi.is_empty() {
                            t.push_str(" — Khắc phục: ");
                            t.push_str(&r.remediation_vi);
                        }
                        t
                    })
                    .collect();
                (line, subs)
            })
            .collect();
        b.section(
            &heading("Hệ thống chưa đáp ứng yêu cầu của cấp độ (nghiêm trọng trước)"),
            &items,
        );
    }
    if !facts.expiring.is_empty() {
        let items: Vec<(String, Vec<String>)> = facts
            .expiring
            .iter()
            .map(|e| {
                let what = if e.what == "certificate" {
                    "Chứng thư số (TLS)"
                } else {
                    "Tên miền"
                };
                let left = if e.days < 0 {
                    format!("đã hết hạn {} ngày", -e.days)
                } else {
                    format!("còn {} ngày", e.days)
                };
                (
                    format!("{what} của {} hết hạn ngày {} ({left})", e.name, dmy(e.on)),
                    Vec::new(),
                )
            })
            .collect();
        b.section(
            &heading("Chứng thư số và tên miền hết hạn trước khi kết thúc kỳ nghỉ"),
            &items,
        );
    }
    if !facts.content.is_empty() {
        let items: Vec<(String, Vec<String>)> = facts
            .content
            .iter()
            .map(|c| (format!("{}: {}", c.name, c.findings.join("; ")), Vec::new()))
            .collect();
        b.section(
            &heading("Trang có dấu hiệu nội dung lạ (quảng cáo cờ bạc, thay đổi giao diện)"),
            &items,
        );
    }
    if !facts.dossiers.is_empty() {
        let items: Vec<(String, Vec<String>)> = facts
            .dossiers
            .iter()
            .map(|d| {
                let mut line = format!("Hồ sơ đề xuất cấp độ của {}: {}", d.name, d.state);
                if let Some(days) = d.overdue_days {
                    line.push_str(&format!(", quá hạn {days} ngày làm việc"));
                }
                if d.needs_supplement {
                    line.push_str(" — đề nghị đơn vị nộp bổ sung");
                }
                (line, Vec::new())
            })
            .collect();
        b.section(&heading("Hồ sơ cần bổ sung hoặc quá hạn"), &items);
    }
    if !facts.silent_agents.is_empty() {
        let items: Vec<(String, Vec<String>)> = facts
            .silent_agents
            .iter()
            .map(|a| {
                let seen = a.last_seen.map_or_else(
                    || "chưa từng báo cáo".to_owned(),
                    |t| format!("báo cáo lần cuối ngày {}", dmy(vietnam_day(t))),
                );
                (format!("{} ({}): {seen}", a.name, a.network), Vec::new())
            })
            .collect();
        b.section(&heading("Máy giám sát (agent) không gửi báo cáo"), &items);
    }
    b.para(&fill(recommendations, block, &facts.name));
    b.finish(subject)
}

/// The province-wide summary for the security staff.
pub fn holiday_summary(
    all: &[&AgencyFacts],
    reminder: &Reminder,
    today: Date,
    without_contacts: &[&AgencyFacts],
) -> Composed {
    let block = &reminder.block;
    let subject = format!(
        "[canhgac] Tổng hợp trước kỳ nghỉ {} ({} - {}): {} đơn vị",
        block.name_vi,
        dmy(block.start),
        dmy(block.end),
        all.len()
    );
    // A system owned by one agency and operated by another is in both letters: count it once.
    let distinct = |ids: Vec<String>| {
        ids.into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    let systems = distinct(
        all.iter()
            .flat_map(|f| f.system_ids.iter().map(|s| s.to_string()))
            .collect(),
    );
    let failing = distinct(
        all.iter()
            .flat_map(|f| f.failing.iter().map(|s| s.system.to_string()))
            .collect(),
    );
    let critical = distinct(
        all.iter()
            .flat_map(|f| {
                f.failing
                    .iter()
                    .filter(|s| s.critical())
                    .map(|s| s.system.to_string())
            })
            .collect(),
    );
    let expiring = distinct(
        all.iter()
            .flat_map(|f| {
                f.expiring
                    .iter()
                    .map(|e| format!("{}/{}", e.system, e.what))
            })
            .collect(),
    );
    let content = distinct(
        all.iter()
            .flat_map(|f| f.content.iter().map(|c| c.system.to_string()))
            .collect(),
    );
    let dossiers = distinct(
        all.iter()
            .flat_map(|f| {
                f.dossiers
                    .iter()
                    .map(|d| format!("{}/{}", d.system, d.state))
            })
            .collect(),
    );
    let silent: usize = all.iter().map(|f| f.silent_agents.len()).sum();
    let mut b = Body::default();
    b.para(&format!(
        "Kỳ nghỉ {} từ ngày {} đến hết ngày {} ({}). Thư cảnh báo đã được gửi tới {} đơn vị.",
        block.name_vi,
        dmy(block.start),
        dmy(block.end),
        when(reminder, today),
        all.len() - without_contacts.len()
    ));
    b.section(
        "Số liệu toàn tỉnh",
        &[
            (format!("Hệ thống theo dõi: {systems}"), vec![]),
            (
                format!("Hệ thống chưa đáp ứng cấp độ: {failing} (nghiêm trọng: {critical})"),
                vec![],
            ),
            (
                format!("Chứng thư số, tên miền hết hạn trước khi hết kỳ nghỉ: {expiring}"),
                vec![],
            ),
            (format!("Trang có nội dung lạ: {content}"), vec![]),
            (
                format!("Hồ sơ cần bổ sung hoặc quá hạn: {dossiers}"),
                vec![],
            ),
            (format!("Agent không gửi báo cáo: {silent}"), vec![]),
        ],
    );
    let mut worst: Vec<&&AgencyFacts> = all.iter().filter(|f| !f.all_clear()).collect();
    worst.sort_by(|a, b| {
        let key = |f: &AgencyFacts| {
            (
                f.failing.iter().filter(|s| s.critical()).count(),
                f.failing.len() + f.expiring.len() + f.content.len(),
            )
        };
        key(b).cmp(&key(a)).then(a.name.cmp(&b.name))
    });
    if !worst.is_empty() {
        let items: Vec<(String, Vec<String>)> = worst
            .iter()
            .map(|f| {
                (
                    format!(
                        "{}: {} hệ thống chưa đạt ({} nghiêm trọng), {} sắp hết hạn, {} nội dung lạ, {} hồ sơ, {} agent",
                        f.name,
                        f.failing.len(),
                        f.failing.iter().filter(|s| s.critical()).count(),
                        f.expiring.len(),
                        f.content.len(),
                        f.dossiers.len(),
                        f.silent_agents.len()
                    ),
                    Vec::new(),
                )
            })
            .collect();
        b.section("Đơn vị cần chú ý", &items);
    }
    if !without_contacts.is_empty() {
        let items: Vec<(String, Vec<String>)> = without_contacts
            .iter()
            .map(|f| (f.name.clone(), Vec::new()))
            .collect();
        b.section(
            "Đơn vị chưa có địa chỉ thư điện tử đầu mối (không gửi được cảnh báo)",
            &items,
        );
    }
    b.finish(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_escape_html_and_keep_text() {
        let mut b = Body::default();
        b.para("a <b> & \"c\"");
        b.section("1. X", &[("line <i>".into(), vec!["sub & more".into()])]);
        let c = b.finish("Chủ đề".into());
        assert!(c.html.contains("a &lt;b&gt; &amp; &quot;c&quot;"));
        assert!(
            c.html
                .contains("<li>line &lt;i&gt;<ul><li>sub &amp; more</li></ul></li>")
        );
        assert!(c.text.contains("  - line <i>\n      + sub & more\n"));
        assert_eq!(dmy(jiff::civil::date(2026, 9, 2)), "02/09/2026");
    }

    fn facts(name: &str, agency: u8, system: crate::model::SystemId) -> AgencyFacts {
        let at = jiff::Timestamp::from_second(1_790_000_000).unwrap();
        AgencyFacts {
            agency: crate::model::AgencyId::derived(at, &[agency]),
            name: name.into(),
            contacts: vec![crate::model::Email::new("vanthu@example.gov.vn").unwrap()],
            systems: 1,
            system_ids: vec![system],
            failing: vec![super::super::facts::FailingSystem {
                system,
                name: "Cổng thông tin".into(),
                url: "https://congthuong.example.gov.vn/".into(),
                level: 2,
                grade: "F".into(),
                scanned_at: at,
                stale: false,
                rules: vec![super::super::facts::FailingRule {
                    rule: "tls.cert_expiry".into(),
                    title_vi: "Chứng thư số sắp hết hạn".into(),
                    severity: "critical".into(),
                    critical: true,
                    remediation_vi: "Gia hạn chứng thư số.".into(),
                }],
            }],
            expiring: Vec::new(),
            content: Vec::new(),
            dossiers: Vec::new(),
            silent_agents: Vec::new(),
        }
    }

    #[test]
    fn a_letter_lists_critical_failures_with_remediation_and_the_summary_counts_a_shared_system_once()
     {
        let at = jiff::Timestamp::from_second(1_790_000_000).unwrap();
        let system = crate::model::SystemId::derived(at, b"shared");
        // Owned by one agency, operated by another: in both letters.
        let owner = facts("Sở Công Thương", 1, system);
        let unit = facts("Trung tâm Xúc tiến Thương mại", 2, system);
        let reminder = Reminder {
            block: HolidayBlock {
                start: jiff::civil::date(2027, 9, 2),
                end: jiff::civil::date(2027, 9, 5),
                days: 4,
                holidays: vec!["national-day".into()],
                name_vi: "Quốc khánh".into(),
                name_en: "National Day".into(),
            },
            id: "w3".into(),
            send_on: jiff::civil::date(2027, 8, 30),
        };
        let today = jiff::civil::date(2027, 8, 30);
        let letter = holiday_letter(&owner, &reminder, DEFAULT_RECOMMENDATIONS, today);
        assert!(letter.text.contains("NGHIÊM TRỌNG"), "{}", letter.text);
        assert!(
            letter
                .text
                .contains("[critical] Chứng thư số sắp hết hạn — Khắc phục: Gia hạn chứng thư số."),
            "{}",
            letter.text
        );
        assert!(letter.text.contains("còn 3 ngày"), "{}", letter.text);
        assert!(
            letter.text.contains("đề nghị Sở Công Thương"),
            "{}",
            letter.text
        );
        let summary = holiday_summary(&[&owner, &unit], &reminder, today, &[]);
        assert!(
            summary.text.contains("Hệ thống theo dõi: 1\n"),
            "{}",
            summary.text
        );
        assert!(
            summary
                .text
                .contains("Hệ thống chưa đáp ứng cấp độ: 1 (nghiêm trọng: 1)"),
            "{}",
            summary.text
        );
    }

    #[test]
    fn the_recommendations_template_is_stored_and_reset() {
        let store = crate::store::MemoryStore::new();
        assert_eq!(recommendations(&store).unwrap(), DEFAULT_RECOMMENDATIONS);
        set_recommendations(&store, "  Trực 24/7 dịp {ky_nghi}. ").unwrap();
        assert_eq!(recommendations(&store).unwrap(), "Trực 24/7 dịp {ky_nghi}.");
        set_recommendations(&store, "").unwrap();
        assert_eq!(recommendations(&store).unwrap(), DEFAULT_RECOMMENDATIONS);
    }
}
