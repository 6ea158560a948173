#![allow(clippy::unwrap_used)]
fn main() {
    for p in std::env::args().skip(1) {
        let f = rsgrub_io::FileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
        let t = std::time::Instant::now();
        let k = rsgrub_kernel::identify(&f);
        println!("{p}: {}  [{:?}]", k.describe(), t.elapsed());
    }
}
