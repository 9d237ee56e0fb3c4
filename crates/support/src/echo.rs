//! TCP echo backends on 127.0.0.1 (for `meshroute demo` and tests): each connection first receives the server's name and a newline, then
//! gets back every line it sends, prefixed with the name. Servers stop when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct EchoServer {
    pub name: String,
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl EchoServer {
    /// Starts a server named `name` on a free loopback port.
    pub fn start(name: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (stop_flag, server_name) = (stop.clone(), name.to_owned());
        std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let name = server_name.clone();
                        std::thread::spawn(move || serve(stream, &name));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self { name: name.to_owned(), port, stop })
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, name: &str) {
    let _ = stream.set_nonblocking(false);
    let Ok(mut writer) = stream.try_clone() else { return };
    if writeln!(writer, "{name}").is_err() {
        return;
    }
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let Ok(line) = line else { break };
        if writeln!(writer, "{name}: {line}").is_err() {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// Connects to `port` and returns the name of the server that answered (the first line), or None when
/// the connection is refused or closed without an answer within `timeout`.
pub fn who_answers(port: u16, timeout: Duration) -> Option<String> {
    let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    let name = line.trim_end().to_owned();
    (!name.is_empty()).then_some(name)
}
