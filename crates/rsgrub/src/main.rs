fn main() {
    println!("rsgrub");
}
