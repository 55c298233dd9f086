"""A private MariaDB server for one benchmark run.

Production Placement runs on MariaDB (or MySQL), not SQLite, so the
benchmark starts Debian's ``mariadb-server`` itself: a data directory made
by ``mariadb-install-db`` under a temporary directory, ``mariadbd`` started
directly (no systemd, no init script) on a Unix socket in that directory
and no TCP port, so that it clashes with no other server on the machine.
Its PID is recorded; ``stop()`` ends exactly that process and removes the
directory, also when the benchmark fails (use it as a context manager).
"""

import getpass
import os
import shutil
import subprocess
import tempfile
import time

#: Where Debian puts the server; sbin is not always on PATH.
_SEARCH = ('/usr/sbin', '/usr/bin', '/usr/libexec', '/usr/local/sbin',
           '/usr/local/bin')
DATABASE = 'placement'
#: Seconds to wait for the server to answer, and to end.
START_TIMEOUT = 60
STOP_TIMEOUT = 30


class MariaDBError(Exception):
    """The server is missing, or did not start or answer."""


def find(*names):
    """The path of the first program of ``names`` found, or None."""
    path = os.environ.get('PATH', '').split(os.pathsep) + list(_SEARCH)
    for name in names:
        found = shutil.which(name, path=os.pathsep.join(path))
        if found:
            return found
    return None


def available():
    """Whether the server and its installer are installed."""
    return bool(find('mariadbd', 'mysqld') and
                find('mariadb-install-db', 'mysql_install_db'))


class MariaDBServer:
    """One ``mariadbd`` on a private data directory and socket."""

    def __init__(self, buffer_pool_mb=512):
        self.buffer_pool_mb = buffer_pool_mb
        self.tmpdir = None
        self.process = None

    @property
    def socket(self):
        return os.path.join(self.tmpdir, 'mysqld.sock')

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def url(self):
        """oslo.db's ``connection`` for Placement, through PyMySQL."""
        return 'mysql+pymysql://root@localhost/%s?unix_socket=%s' % (
            DATABASE, self.socket)

    def _run(self, argv):
        proc = subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              universal_newlines=True)
        if proc.returncode:
            raise MariaDBError('%s failed (exit %d): %s' % (
                argv[0], proc.returncode, proc.stdout[-2000:]))

    def start(self):
        server = find('mariadbd', 'mysqld')
        installer = find('mariadb-install-db', 'mysql_install_db')
        if not server or not installer:
            raise MariaDBError(
                'MariaDB is not installed: install Debian\'s mariadb-server '
                '(bindep.txt, profiles "benchmark" and "test", which '
                'tools/bootstrap.sh installs), or run with --backends '
                'sqlite')
        self.tmpdir = tempfile.mkdtemp(prefix='placement-mariadb-')
        datadir = os.path.join(self.tmpdir, 'data')
        user = getpass.getuser()
        self._run([installer, '--no-defaults', '--datadir=%s' % datadir,
                   '--user=%s' % user, '--skip-test-db',
                   '--auth-root-authentication-method=normal'])
        self.log_path = os.path.join(self.tmpdir, 'mariadbd.log')
        with open(self.log_path, 'w') as log:
            self.process = subprocess.Popen(
                [server, '--no-defaults', '--datadir=%s' % datadir,
                 '--socket=%s' % self.socket, '--skip-networking',
                 '--user=%s' % user,
                 '--pid-file=%s' % os.path.join(self.tmpdir, 'mysqld.pid'),
                 '--innodb-buffer-pool-size=%dM' % self.buffer_pool_mb,
                 '--max-connections=200',
                 '--character-set-server=utf8mb4'],
                stdout=log, stderr=subprocess.STDOUT)
        self._wait()
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute('CREATE DATABASE %s CHARACTER SET utf8mb4' %
                        DATABASE)
        return self

    def connect(self, database=None):
        # Imported here: a run on SQLite alone needs no PyMySQL.
        import pymysql
        return pymysql.connect(unix_socket=self.socket, user='root',
                               database=database, autocommit=True)

    def _wait(self):
        import pymysql
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise MariaDBError('mariadbd exited with %d: %s' % (
                    self.process.returncode, self._log_tail()))
            try:
                self.connect().close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise MariaDBError('mariadbd did not answer in %d s: %s'
                                       % (START_TIMEOUT, self._log_tail()))
                time.sleep(0.2)

    def _log_tail(self):
        try:
            with open(self.log_path) as log:
                return log.read()[-2000:]
        except OSError:
            return '(no log)'

    def version(self):
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute('SELECT VERSION()')
            return cur.fetchone()[0]

    def stop(self):
        """End the server this object started; remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def history_length(engine):
    """Committed transactions whose undo logs InnoDB has yet to purge."""
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            'SELECT COUNT FROM information_schema.INNODB_METRICS WHERE '
            "NAME = 'trx_rseg_history_len'").scalar() or 0


def wait_for_purge(engine, below=1, interval=0.2, timeout=30.0):
    """Wait until InnoDB has purged the rows deleted so far.

    A DELETE only marks index records; InnoDB's purge threads remove them
    later. Until then every query that scans those indexes steps over the
    marked records, so a query right after a large delete pays for it.
    Returns the seconds waited.
    """
    start = time.perf_counter()
    while (history_length(engine) >= below and
           time.perf_counter() - start < timeout):
        time.sleep(interval)
    return time.perf_counter() - start
