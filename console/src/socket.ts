// A live socket of the API (a board, a conversation): the session's token in the query, JSON
// events in, reconnection with backoff when it drops. A refused upgrade tells the page nothing,
// so `explainRefusal` asks the API why (its problem ends the socket) or finds it was a blip.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';

export type SocketState = 'connecting' | 'live' | 'reconnecting';

export function useLiveSocket<E>({
  path,
  onEvent,
  explainRefusal,
  finalCloses = {},
  pingMs,
}: {
  /** The socket's API path; a new path is a new socket. */
  path: string;
  onEvent: (event: E) => void;
  /** Resolves to the reason the API refuses this socket, or null if it would take it now. */
  explainRefusal: () => Promise<unknown>;
  /** Close codes that end the socket for good, with what to tell the person. */
  finalCloses?: Record<number, string>;
  pingMs?: number;
}) {
  const [state, setState] = useState<SocketState>('connecting');
  const [ended, setEnded] = useState<unknown>(null);
  const socket = useRef<WebSocket | null>(null);
  const handlers = useRef({ onEvent, explainRefusal, finalCloses });
  handlers.current = { onEvent, explainRefusal, finalCloses };

  useEffect(() => {
    let stopped = false;
    let attempt = 0;
    let ping: ReturnType<typeof setInterval> | undefined;
    setEnded(null);
    const connect = async () => {
      setState(attempt === 0 ? 'connecting' : 'reconnecting');
      const ws = new WebSocket(await api.socketUrl(path));
      if (stopped) return ws.close();
      socket.current = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        attempt = 0;
        setState('live');
        if (pingMs) ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"ping"}'), pingMs);
      };
      ws.onmessage = (message) => handlers.current.onEvent(JSON.parse(message.data));
      ws.onclose = async (close) => {
        clearInterval(ping);
        if (stopped) return;
        const final = handlers.current.finalCloses[close.code];
        if (final) return setEnded(final);
        if (!opened) {
          const refused = await handlers.current.explainRefusal();
          if (refused) return setEnded(refused);
        }
        setState('reconnecting');
        setTimeout(() => !stopped && connect(), Math.min(10_000, 500 * 2 ** attempt++));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearInterval(ping);
      socket.current?.close(1000);
      socket.current = null;
    };
  }, [path, pingMs]);

  /** Sends `message` if the socket is open; false if it is not (the page says so). */
  const send = (message: object) => {
    if (socket.current?.readyState !== WebSocket.OPEN) return false;
    socket.current.send(JSON.stringify(message));
    return true;
  };
  return { state, ended, send };
}
