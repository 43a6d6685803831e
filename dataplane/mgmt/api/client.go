package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// Limits of the client.
const (
	requestTimeout = 5 * time.Minute // drive formatting and mounts can take a while
	replyBytesMax  = 64 << 20
)

// Error is a non-2xx answer of the API.
type Error struct {
	Status int
	Body   ErrorBody
}

// Error is the agent's message, which names the bad value.
func (e *Error) Error() string { return e.Body.Error }

// IsCode reports whether err is an API error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Body.Code == code
}

// Client talks to one agent's management API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the API at addr ("127.0.0.1:14000")
// presenting token.
func NewClient(addr, token string) *Client {
	return &Client{base: "http://" + addr, token: token, http: &http.Client{Timeout: requestTimeout}}
}

// ReadToken reads a token file written by the agent.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read API token: %w (is weftd running, and are you root?)", err)
	}
	tok := strings.TrimSpace(string(b))
	for _, c := range []byte(tok) {
		if c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("API token file %s is malformed: want one line written by weftd", path)
		}
	}
	if tok == "" {
		return "", fmt.Errorf("API token file %s is empty", path)
	}
	return tok, nil
}

// Do sends one request; in (if not nil) is sent as JSON, the reply is
// decoded into out (if not nil).
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("weftd API at %s: %w (is weftd running?)", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, replyBytesMax))
	if err != nil {
		return fmt.Errorf("weftd API: read reply: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(b, &e.Body) != nil || e.Body.Error == "" {
			e.Body = ErrorBody{Error: fmt.Sprintf("weftd API: %s %s: %s", method, path, resp.Status), Code: CodeInternal}
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("weftd API: %s %s: decode reply: %w", method, path, err)
		}
	}
	return nil
}

// Status returns the agent's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.Do(ctx, http.MethodGet, PathStatus, nil, &s)
}

// CreateCluster creates the cluster.
func (c *Client) CreateCluster(ctx context.Context, name string) (Cluster, error) {
	var cl Cluster
	return cl, c.Do(ctx, http.MethodPost, PathCluster, CreateClusterRequest{Name: name}, &cl)
}

// AddDrives formats and adds drives.
func (c *Client) AddDrives(ctx context.Context, paths []string, force bool) ([]Drive, error) {
	var d []Drive
	return d, c.Do(ctx, http.MethodPost, PathDrives, AddDrivesRequest{Paths: paths, Force: force}, &d)
}

// RemoveDrive removes a drive that is not yet in the pool.
func (c *Client) RemoveDrive(ctx context.Context, path string) (Drive, error) {
	var d Drive
	return d, c.Do(ctx, http.MethodPost, PathDrives+"/remove", RemoveDriveRequest{Path: path}, &d)
}

// Drives lists the drives.
func (c *Client) Drives(ctx context.Context) ([]Drive, error) {
	var d []Drive
	return d, c.Do(ctx, http.MethodGet, PathDrives, nil, &d)
}

// CreateFS creates a file system.
func (c *Client) CreateFS(ctx context.Context, r CreateFSRequest) (FileSystem, error) {
	var f FileSystem
	return f, c.Do(ctx, http.MethodPost, PathFileSystems, r, &f)
}

// FileSystems lists the file systems.
func (c *Client) FileSystems(ctx context.Context) ([]FileSystem, error) {
	var f []FileSystem
	return f, c.Do(ctx, http.MethodGet, PathFileSystems, nil, &f)
}

// DeleteFS deletes a file system.
func (c *Client) DeleteFS(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, PathFileSystems+"/"+name, nil, nil)
}

// Mount asks the agent to mount a file system.
func (c *Client) Mount(ctx context.Context, r MountRequest) (Mount, error) {
	var m Mount
	return m, c.Do(ctx, http.MethodPost, PathMounts, r, &m)
}

// Unmount asks the agent to unmount a directory.
func (c *Client) Unmount(ctx context.Context, r UnmountRequest) error {
	return c.Do(ctx, http.MethodPost, PathMounts+"/unmount", r, nil)
}

// Mounts lists the agent's mounts.
func (c *Client) Mounts(ctx context.Context) ([]Mount, error) {
	var m []Mount
	return m, c.Do(ctx, http.MethodGet, PathMounts, nil, &m)
}
