//! WebSocket, as upstream's echo serves it on `/ws`: every text or binary message comes back as
//! it was sent. [`round_trip`] is the client side the conformance tests use.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

/// Echo every data message until the peer closes.
pub async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        match message {
            Message::Text(_) | Message::Binary(_) => {
                if socket.send(message).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

/// Open `ws://<host><path>` over a connection to `addr`, send a text then a binary message and
/// check both come back unchanged (upstream's HTTPRouteBackendProtocolWebSocket exchange).
pub async fn round_trip(addr: SocketAddr, host: &str, path: &str, timeout: Duration) -> Result<(), String> {
    tokio::time::timeout(timeout, round_trip_inner(addr, host, path)).await.map_err(|_| format!("no WebSocket exchange within {timeout:?}"))?
}

async fn round_trip_inner(addr: SocketAddr, host: &str, path: &str) -> Result<(), String> {
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
    let request = format!("ws://{host}{path}").into_client_request().map_err(|e| e.to_string())?;
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream).await.map_err(|e| format!("WebSocket handshake: {e}"))?;
    let sent = [tungstenite::Message::text("Websocket Support!"), tungstenite::Message::binary(vec![1u8, 2, 3, 4, 5, 6, 7])];
    for message in sent {
        socket.send(message.clone()).await.map_err(|e| format!("send: {e}"))?;
        match socket.next().await {
            Some(Ok(reply)) if reply == message => {}
            Some(Ok(reply)) => return Err(format!("sent {message:?}, got {reply:?}")),
            Some(Err(e)) => return Err(format!("receive: {e}")),
            None => return Err("the connection closed before the reply".into()),
        }
    }
    let _ = socket.close(None).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn messages_come_back_as_sent() {
        let addrs = crate::serve_http(&["127.0.0.1:0".parse().unwrap()], crate::EchoConfig::default()).await.unwrap();
        super::round_trip(addrs[0], "echo.test", "/ws", std::time::Duration::from_secs(5)).await.unwrap();
    }
}
