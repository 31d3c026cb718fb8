fn main() {
    eprintln!("samlgate: the command line is being built");
    std::process::exit(2);
}
