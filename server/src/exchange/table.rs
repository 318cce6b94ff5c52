//! A file of rows: CSV (UTF-8, with or without a byte order mark, separated by commas,
//! semicolons or tabs, as Excel writes them by locale) or the first XLSX worksheet with an
//! inventory header. Every cell becomes text; every row keeps the number the officer sees in
//! their spreadsheet program (the CSV line, the worksheet row).

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

/// The most data rows one import reads.
pub const MAX_ROWS: usize = 20_000;

/// How a file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Comma-, semicolon- or tab-separated text.
    Csv,
    /// An Office Open XML workbook.
    Xlsx,
}

impl FileFormat {
    /// XLSX when the bytes are a ZIP archive (every XLSX is), CSV otherwise.
    pub fn sniff(bytes: &[u8]) -> FileFormat {
        if bytes.starts_with(b"PK\x03\x04") {
            FileFormat::Xlsx
        } else {
            FileFormat::Csv
        }
    }
}

/// Why a file cannot be read as a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Nothing in it.
    #[error("tệp rỗng (the file is empty)")]
    Empty,
    /// A CSV that is not UTF-8 (TCVN3 or Windows-1258 exports, for instance).
    #[error(
        "tệp CSV không ở mã UTF-8 (dòng {line}): trong Excel chọn Lưu thành \"CSV UTF-8\" (the CSV file is not UTF-8, line {line})"
    )]
    NotUtf8 {
        /// The first line that is not.
        line: u64,
    },
    /// A CSV the reader cannot parse.
    #[error("không đọc được tệp CSV: {0} (cannot read the CSV file)")]
    Csv(String),
    /// An XLSX the reader cannot open.
    #[error("không mở được tệp XLSX: {0} (cannot open the XLSX workbook)")]
    Xlsx(String),
    /// More rows than one import takes.
    #[error("tệp có hơn {MAX_ROWS} dòng; hãy chia nhỏ (the file has more than {MAX_ROWS} rows)")]
    TooManyRows,
}

/// One row: its number as shown to the officer (1-based) and its cells as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The CSV line or worksheet row, from 1.
    pub number: u32,
    /// The cells, trimmed.
    pub cells: Vec<String>,
}

impl Row {
    /// Whether every cell is empty.
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.trim().is_empty())
    }
}

/// Reads every row of a file.
pub fn read(bytes: &[u8], format: FileFormat) -> Result<Vec<Row>, TableError> {
    let rows = match format {
        FileFormat::Csv => read_csv(bytes)?,
        FileFormat::Xlsx => read_xlsx(bytes)?,
    };
    if rows.iter().all(Row::is_blank) {
        return Err(TableError::Empty);
    }
    Ok(rows)
}

/// The separator of a CSV: the most frequent of `;`, `,` and tab outside quotes in its first
/// lines (a comma when none appears).
fn delimiter(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    let mut lines = 0;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => {
                lines += 1;
                if lines >= 10 {
                    break;
                }
            }
            ',' | ';' | '\t' if !quoted => {
                for (d, n) in &mut counts {
                    if char::from(*d) == c {
                        *n += 1;
                    }
                }
            }
            _ => {}
        }
    }
    counts
        .iter()
        .copied()
        .max_by_key(|&(d, n)| (n, d == b','))
        .map_or(b',', |(d, _)| d)
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Row>, TableError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(TableError::Empty);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64
                + 1;
            return Err(TableError::NotUtf8 { line });
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(text))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| TableError::Csv(e.to_string()))?;
        if rows.len() > MAX_ROWS {
            return Err(TableError::TooManyRows);
        }
        // The line where the record starts, counted from its byte offset (csv's own line
        // count does not see "\r\n" the way spreadsheet programs do).
        let mut start = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        // After "\r\n" the reader may place a record on its "\n".
        while matches!(text.as_bytes().get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let before = text.as_bytes().get(..start).unwrap_or(text.as_bytes());
        let newlines = before.iter().filter(|&&b| b == b'\n').count();
        let number = u32::try_from(newlines + 1).unwrap_or(u32::MAX);
        rows.push(Row {
            number,
            cells: record.iter().map(|c| c.trim().to_owned()).collect(),
        });
    }
    Ok(rows)
}

/// A cell as text: numbers without a needless ".0", dates as day/month/year.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::DateTime(dt) => {
            let serial = dt.as_f64();
            let days = serial.floor() as i64;
            jiff::Span::new()
                .try_days(days)
                .and_then(|span| jiff::civil::date(1899, 12, 30).checked_add(span))
                .map_or_else(|_| serial.to_string(), crate::model::format_date_vi)
        }
        other => other.to_string().trim().to_owned(),
    }
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Row>, TableError> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| TableError::Xlsx(e.to_string()))?;
    let mut first: Option<Vec<Row>> = None;
    for name in workbook.sheet_names() {
        let range = workbook
            .worksheet_range(&name)
            .map_err(|e| TableError::Xlsx(e.to_string()))?;
        if range.height() > MAX_ROWS + 50 {
            return Err(TableError::TooManyRows);
        }
        let (top, _) = range.start().unwrap_or((0, 0));
        let rows: Vec<Row> = range
            .rows()
            .enumerate()
            .map(|(i, cells)| Row {
                number: top + u32::try_from(i).unwrap_or(u32::MAX) + 1,
                cells: cells.iter().map(cell_text).collect(),
            })
            .collect();
        if super::import::header_row(&rows).is_some() {
            return Ok(rows);
        }
        if first.is_none() {
            first = Some(rows);
        }
    }
    Ok(first.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(rows: &[Row]) -> Vec<Vec<&str>> {
        rows.iter()
            .map(|r| r.cells.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn csv_with_bom_semicolons_and_quotes() {
        let text = "\u{feff}STT;Tên hệ thống;Cấp độ đề xuất\n1;\"Cổng; thông tin\";2\r\n2;\"Hệ thống\nnhiều dòng\";3\n";
        let rows = read(text.as_bytes(), FileFormat::sniff(text.as_bytes())).unwrap();
        assert_eq!(
            cells(&rows),
            vec![
                vec!["STT", "Tên hệ thống", "Cấp độ đề xuất"],
                vec!["1", "Cổng; thông tin", "2"],
                vec!["2", "Hệ thống\nnhiều dòng", "3"],
            ]
        );
        assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn csv_with_commas_and_tabs() {
        let rows = read(b"STT,Ten he thong\n1,A\n", FileFormat::Csv).unwrap();
        assert_eq!(cells(&rows)[1], ["1", "A"]);
        let rows = read(b"STT\tTen he thong\n1\tA, B\n", FileFormat::Csv).unwrap();
        assert_eq!(cells(&rows)[1], ["1", "A, B"]);
    }

    #[test]
    fn bad_files() {
        assert_eq!(read(b"", FileFormat::Csv), Err(TableError::Empty));
        assert_eq!(
            read(b"\xEF\xBB\xBF\n ;;\n", FileFormat::Csv),
            Err(TableError::Empty)
        );
        assert_eq!(
            read(b"STT;Ten\n1;S\xF7 C\xF4ng\n", FileFormat::Csv),
            Err(TableError::NotUtf8 { line: 2 })
        );
        assert!(matches!(
            read(b"PK\x03\x04garbage", FileFormat::Xlsx),
            Err(TableError::Xlsx(_))
        ));
    }

    #[test]
    fn xlsx_cells_as_text() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "Báo cáo").unwrap();
        sheet.write_string(2, 0, "STT").unwrap();
        sheet.write_string(2, 1, "Tên hệ thống").unwrap();
        sheet.write_string(2, 2, "Cấp độ đề xuất").unwrap();
        sheet.write_number(3, 0, 1).unwrap();
        sheet.write_string(3, 1, "Cổng thông tin").unwrap();
        sheet.write_number(3, 2, 2.0).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        assert_eq!(FileFormat::sniff(&bytes), FileFormat::Xlsx);
        let rows = read(&bytes, FileFormat::Xlsx).unwrap();
        let last = rows.last().unwrap();
        assert_eq!(last.number, 4);
        assert_eq!(last.cells, ["1", "Cổng thông tin", "2"]);
    }
}
