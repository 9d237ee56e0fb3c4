//! A TCP forwarder whose link can be cut and restored, to take a real server (PostgreSQL) away from a
//! process under test without stopping the server for everyone else.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub struct Cuttable {
    pub port: u16,
    target: (String, u16),
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    listener: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Cuttable {
    /// Forwards a free local port to `host:port`.
    pub fn start(host: &str, port: u16) -> Self {
        let local = crate::processes::free_port();
        let forwarder = Self {
            port: local,
            target: (host.to_owned(), port),
            cut: Arc::new(AtomicBool::new(false)),
            connections: Arc::default(),
            listener: Mutex::new(None),
        };
        forwarder.listen();
        forwarder
    }

    fn listen(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind the forwarder");
        listener.set_nonblocking(true).expect("nonblocking");
        let (cut, connections, target) = (self.cut.clone(), self.connections.clone(), self.target.clone());
        let handle = std::thread::spawn(move || {
            while !cut.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect((target.0.as_str(), target.1)) else { continue };
                let mut kept = connections.lock().unwrap_or_else(PoisonError::into_inner);
                for stream in [&client, &server] {
                    if let Ok(s) = stream.try_clone() {
                        kept.push(s);
                    }
                }
                drop(kept);
                pipe(&client, &server);
                pipe(&server, &client);
            }
            // Dropping the listener here refuses new connections until `restore`.
        });
        *self.listener.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
    }

    /// Closes every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        if let Some(handle) = self.listener.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = handle.join();
        }
        for stream in self.connections.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Accepts and forwards again.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.listen();
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Copies `from` → `to` on a thread until either side closes.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else { return };
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}
