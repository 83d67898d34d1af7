//! A plugin library's ELF headers checked against its file before the dynamic loader maps it.
//!
//! The loader maps each segment where the headers say it lies; in a file cut short (a partial
//! copy or download) that is past the end of the file, and the first read of such a page kills
//! the process with SIGBUS, before any message. The few fields that matter sit at fixed
//! offsets (ELF identification, type, machine, the program and section header tables), so they
//! are read here by hand rather than through a general object-file parser: the check reads a
//! few kilobytes of headers, never the whole library, and adds no dependency to the crate that
//! loads code.

use std::{
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::Path,
};

const MAGIC: &[u8; 4] = b"\x7fELF";
const CLASS_32: u8 = 1;
const CLASS_64: u8 = 2;
const DATA_LITTLE: u8 = 1;
const DATA_BIG: u8 = 2;
/// `e_type` of a shared object.
const TYPE_DYN: u16 = 3;
/// `p_type` of a segment the loader maps.
const SEGMENT_LOAD: u32 = 1;

/// Why the file at `path` cannot be a library this process can load, or `Ok` when its headers
/// are sound and lie within the file.
pub(crate) fn check(path: &Path) -> Result<(), String> {
    let mut file = File::open(path).map_err(|err| format!("it cannot be read: {err}"))?;
    let size = file.metadata().map_err(|err| format!("it cannot be read: {err}"))?.len();
    let mut header = [0u8; 64];
    let read = read_up_to(&mut file, &mut header).map_err(|err| err.to_string())?;
    let header = &header[..read];
    if header.is_empty() {
        return Err("the file is empty (a failed copy or download?): copy or build the library \
                    again"
            .to_owned());
    }
    if header.len() < 4 || &header[..4] != MAGIC {
        return Err(format!(
            "it is not an ELF shared library: it starts with {}",
            crate::load::quote_start(&String::from_utf8_lossy(&header[..read.min(16)]))
        ));
    }
    if header.len() < 16 {
        return Err(cut_short("the ELF identification", 16, size));
    }
    let (class, data) = (header[4], header[5]);
    let host_class = if cfg!(target_pointer_width = "64") { CLASS_64 } else { CLASS_32 };
    let bits = |class| if class == CLASS_64 { 64 } else { 32 };
    match class {
        CLASS_32 | CLASS_64 if class != host_class => {
            return Err(format!(
                "it is a {}-bit library, and this prefectctl is {}-bit: use a build of the plugin \
                 for this machine",
                bits(class),
                bits(host_class)
            ));
        }
        CLASS_32 | CLASS_64 => {}
        other => return Err(format!("its ELF class {other} is neither 32- nor 64-bit")),
    }
    let host_data = if cfg!(target_endian = "little") { DATA_LITTLE } else { DATA_BIG };
    if data != host_data {
        return Err("its byte order is not this machine's: use a build of the plugin for this \
                    machine"
            .to_owned());
    }
    let fields = Fields::new(host_class);
    if header.len() < fields.header_size {
        return Err(cut_short("the ELF header", fields.header_size as u64, size));
    }
    let kind = u16_at(header, 16);
    if kind != TYPE_DYN {
        return Err(format!(
            "it is an ELF file of type {kind}, not a shared library: build the plugin crate with \
             crate-type [\"cdylib\"]"
        ));
    }
    let machine = u16_at(header, 18);
    if let Some(host) = HOST_MACHINE
        && machine != host
    {
        return Err(format!(
            "it is built for {}, and this prefectctl runs on {}: use a build of the plugin for {}",
            machine_name(machine),
            std::env::consts::ARCH,
            std::env::consts::ARCH
        ));
    }

    let ph_offset = fields.word(header, fields.ph_offset);
    let (ph_size, ph_count) =
        (u16_at(header, fields.ph_sizes), u16_at(header, fields.ph_sizes + 2));
    let (sh_offset, sh_size, sh_count) = (
        fields.word(header, fields.sh_offset),
        u16_at(header, fields.ph_sizes + 4),
        u16_at(header, fields.ph_sizes + 6),
    );
    if usize::from(ph_size) != fields.segment_size {
        return Err(format!(
            "its program headers are {ph_size} bytes each, not {}",
            fields.segment_size
        ));
    }
    let table_end = end_of(ph_offset, u64::from(ph_size) * u64::from(ph_count));
    if table_end > size {
        return Err(cut_short("its program header table", table_end, size));
    }
    if sh_count > 0 {
        let end = end_of(sh_offset, u64::from(sh_size) * u64::from(sh_count));
        if end > size {
            return Err(cut_short("its section header table", end, size));
        }
    }
    let mut table = vec![0u8; usize::from(ph_size) * usize::from(ph_count)];
    file.seek(SeekFrom::Start(ph_offset))
        .and_then(|_| file.read_exact(&mut table))
        .map_err(|err| format!("its program headers cannot be read: {err}"))?;
    for (index, segment) in table.chunks_exact(fields.segment_size).enumerate() {
        let offset = fields.word(segment, fields.segment_offset);
        let file_size = fields.word(segment, fields.segment_file_size);
        let end = end_of(offset, file_size);
        if file_size > 0 && end > size {
            let what = if u32_at(segment, 0) == SEGMENT_LOAD {
                format!("its loadable segment {index}")
            } else {
                format!("its segment {index}")
            };
            return Err(cut_short(&what, end, size));
        }
    }
    Ok(())
}

/// Where the 64- or 32-bit layout keeps the fields read.
struct Fields {
    wide: bool,
    header_size: usize,
    ph_offset: usize,
    sh_offset: usize,
    /// `e_phentsize`, followed by `e_phnum`, `e_shentsize` and `e_shnum`.
    ph_sizes: usize,
    segment_size: usize,
    segment_offset: usize,
    segment_file_size: usize,
}

impl Fields {
    fn new(class: u8) -> Fields {
        if class == CLASS_64 {
            Fields {
                wide: true,
                header_size: 64,
                ph_offset: 32,
                sh_offset: 40,
                ph_sizes: 54,
                segment_size: 56,
                segment_offset: 8,
                segment_file_size: 32,
            }
        } else {
            Fields {
                wide: false,
                header_size: 52,
                ph_offset: 28,
                sh_offset: 32,
                ph_sizes: 42,
                segment_size: 32,
                segment_offset: 4,
                segment_file_size: 16,
            }
        }
    }

    /// An address or offset: 8 bytes in the 64-bit layout, 4 in the 32-bit one.
    fn word(&self, bytes: &[u8], at: usize) -> u64 {
        if self.wide {
            u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
        } else {
            u64::from(u32_at(bytes, at))
        }
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// `offset + length`, or `u64::MAX` when that overflows (which lies past any file).
fn end_of(offset: u64, length: u64) -> u64 {
    offset.saturating_add(length)
}

fn cut_short(what: &str, end: u64, size: u64) -> String {
    format!(
        "it is cut short: {what} ends at byte {end}, but the file has {size} bytes (a partial \
         copy or download?): copy or build the library again"
    )
}

/// Reads into `buffer` until it is full or the file ends; how many bytes were read.
fn read_up_to(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut read = 0;
    while read < buffer.len() {
        match file.read(&mut buffer[read..])? {
            0 => break,
            n => read += n,
        }
    }
    Ok(read)
}

/// This machine's `e_machine`, when it is one of those Rust commonly targets.
const HOST_MACHINE: Option<u16> = if cfg!(target_arch = "x86_64") {
    Some(62)
} else if cfg!(target_arch = "aarch64") {
    Some(183)
} else if cfg!(target_arch = "x86") {
    Some(3)
} else if cfg!(target_arch = "arm") {
    Some(40)
} else if cfg!(target_arch = "riscv64") || cfg!(target_arch = "riscv32") {
    Some(243)
} else if cfg!(target_arch = "powerpc64") {
    Some(21)
} else if cfg!(target_arch = "s390x") {
    Some(22)
} else if cfg!(target_arch = "loongarch64") {
    Some(258)
} else {
    None
};

fn machine_name(machine: u16) -> String {
    match machine {
        62 => "x86_64".to_owned(),
        183 => "aarch64".to_owned(),
        3 => "x86".to_owned(),
        40 => "arm".to_owned(),
        243 => "riscv".to_owned(),
        21 => "powerpc64".to_owned(),
        22 => "s390x".to_owned(),
        258 => "loongarch64".to_owned(),
        other => format!("another machine (ELF machine {other})"),
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A shared library this test process has loaded (the C library, or the dynamic loader).
    fn a_library() -> Vec<u8> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let path = maps
            .lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .find(|path| path.contains(".so"))
            .expect("a dynamically linked test binary maps a shared library");
        std::fs::read(path).unwrap()
    }

    fn check_bytes(label: &str, bytes: &[u8]) -> Result<(), String> {
        let path =
            std::env::temp_dir().join(format!("prefectctl-elf-{}-{label}.so", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let result = check(&path);
        std::fs::remove_file(&path).unwrap();
        result
    }

    #[test]
    fn a_whole_file_passes_and_a_cut_one_names_what_is_missing() {
        let library = a_library();
        assert_eq!(check_bytes("whole", &library), Ok(()));
        let half = &library[..library.len() / 2];
        let err = check_bytes("half", half).unwrap_err();
        assert!(err.starts_with("it is cut short: its "), "{err}");
        assert!(err.contains(&format!("the file has {} bytes", half.len())), "{err}");
        let err = check_bytes("header", &library[..40]).unwrap_err();
        assert!(err.starts_with("it is cut short: the ELF header ends at byte"), "{err}");
        let err = check_bytes("ident", &library[..3]).unwrap_err();
        assert!(err.starts_with("it is not an ELF shared library"), "{err}");
    }

    #[test]
    fn another_machine_or_class_or_no_elf_at_all() {
        let mut library = a_library();
        library[18..20].copy_from_slice(&9999u16.to_ne_bytes());
        let err = check_bytes("machine", &library).unwrap_err();
        assert!(err.starts_with("it is built for another machine (ELF machine 9999)"), "{err}");
        library[4] = if library[4] == CLASS_64 { CLASS_32 } else { CLASS_64 };
        let err = check_bytes("class", &library).unwrap_err();
        assert!(err.contains("-bit library, and this prefectctl is"), "{err}");
        let err = check_bytes("text", b"this is text, not ELF\n").unwrap_err();
        assert_eq!(err, r#"it is not an ELF shared library: it starts with "this is text, no""#);
        assert!(check_bytes("empty", b"").unwrap_err().starts_with("the file is empty"));
    }
}
