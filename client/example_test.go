package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/edgegate/edgegate/client"
)

// Connect, subscribe to a conversation, send a message and print what
// arrives. Reconnects, resends and de-duplication happen inside the client.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{
		URL:    "wss://edge.example.com/v1/ws",
		Token:  "eyJhbGciOi...", // a JWT from your backend; or TokenFunc to refresh it
		Header: http.Header{"Origin": {"https://chat.example.com"}},
		// DeviceID and Positions (persisted from c.Positions()) let a
		// restarted app continue exactly where it stopped.
		DeviceID: "phone-1",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Subscribe(ctx, "group:42"); err != nil {
		log.Fatal(err)
	}
	ack, err := c.Send(ctx, "group:42", []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stored as seq", ack.Seq)

	// Messages arrive in order per conversation, without gaps or
	// duplicates. Keep reading: a full channel pauses the connection.
	for m := range c.Messages() {
		fmt.Printf("%s #%d from %s: %s\n", m.GetConversation(), m.GetSeq(), m.GetSender(), m.GetBody())
	}
}
