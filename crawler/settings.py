"""Scrapy settings for nianbao: polite defaults for government portals.

``NIANBAO_*`` settings are nianbao's own, declared in ``crawler.options``; the CLI passes the database, run id, seeds
and fetch state into a crawl as settings (see ``crawler.runner``).
"""

from crawler.options import crawl_defaults

BOT_NAME = "nianbao"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Politeness: robots.txt obeyed, few requests per portal at once, adaptive delay.
ROBOTSTXT_OBEY = True
USER_AGENT = "nianbao/0.1 (+{contact}; annual-report monitor)"  # {contact} = NIANBAO_CONTACT
# Many hosts at once: the global limit is high, each host's is low (NIANBAO_PER_HOST, held
# by crawler.hosts.HostDownloader whatever the delay; Scrapy's own count overshoots with
# DOWNLOAD_DELAY = 0 on the asyncio reactor, see docs/scrapy-slot-concurrency.md).
CONCURRENT_REQUESTS = 64
# Items of ONE response processed at once. A response here yields one item (or a list
# page's links); Scrapy starts this many asyncio workers per response, so the default
# 100 cost more CPU than the whole pipeline on an unchanged re-crawl.
CONCURRENT_ITEMS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2  # the other name of NIANBAO_PER_HOST (crawler.hosts)
DOWNLOADER = "crawler.hosts.HostDownloader"
# The scheduler hands out requests of the hosts with the fewest downloads under way, so
# one big portal's queue cannot take all of CONCURRENT_REQUESTS while other hosts wait.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
# Scrapy's, but a disk queue (JOBDIR) that cannot be read back or written stops the crawl
# unfinished, instead of failing on every scheduling tick or losing what was queued.
SCHEDULER = "crawler.scheduling.JobScheduler"
DOWNLOAD_DELAY = 1.0
RANDOMIZE_DOWNLOAD_DELAY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 30
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024  # attachments can be large; HTML is capped below
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
# A crawl that grows past this closes itself (finish_reason memusage_exceeded); the run
# is then recorded as failed and judged on nothing (no removals).
MEMUSAGE_ENABLED = True
MEMUSAGE_LIMIT_MB = 1536
LOG_LEVEL = "INFO"
DEPTH_LIMIT = 0  # list pagination can be long; nianbao caps lists and pages per portal itself
REMOTE_CONTROL_ENABLED = False  # Scrapy 2.19 runs an HTTP code-execution server otherwise
FEED_EXPORT_ENCODING = "utf-8"
# Scrapy reads the source of every spider callback (inspect + tokenize + ast) the first time
# it is called, to warn about ``return value`` in a generator: 0.5-0.9 s of every crawl
# process's start (issue 12). dev.sh's lint makes that check instead (ruff B901).
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy logs these versions at the start of a crawl; its list ends with "Platform", which
# makes Python run `uname -p` in a subprocess (a fork of the whole crawl process).
LOG_VERSIONS = [
    "lxml",
    "libxml2",
    "cssselect",
    "parsel",
    "w3lib",
    "Twisted",
    "Python",
    "pyOpenSSL",
    "cryptography",
]

DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9",
}

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    # before Scrapy's OffsiteMiddleware (50): redirects stay in the portal's origin (port included)
    "crawler.middlewares.OriginMiddleware": 40,
    "crawler.middlewares.PoliteUserAgentMiddleware": 500,
    "crawler.middlewares.ConditionalRequestMiddleware": 560,
    # Response side runs from high to low: these see an answer before RetryMiddleware (550).
    "crawler.middlewares.ChallengeMiddleware": 570,
    "crawler.middlewares.RetryAfterMiddleware": 580,
    # sees connection failures before RetryMiddleware (550): a host down is not retried
    "crawler.hosts.HostGiveUpMiddleware": 595,
}
ITEM_PIPELINES = {
    "crawler.pipelines.ExtractPipeline": 300,
}
EXTENSIONS = {
    "crawler.progress.ProgressReporter": 500,
}
# Scrapy's own list without the telnet console and the remote control, which are off (above),
# and with the memory limit on the process's own memory (crawler.memusage):
# Scrapy imports every extension it lists, and these two cost the crawl process aiohttp and
# twisted.conch at start-up (issue 12). tests/test_imports.py keeps it equal to Scrapy's
# EXTENSIONS_BASE otherwise. (An entry set to None in EXTENSIONS would still be imported.)
EXTENSIONS_BASE = {
    "scrapy.extensions.corestats.CoreStats": 0,
    "scrapy.extensions.logcount.LogCount": 0,
    # Scrapy's MemoryUsage judges ru_maxrss, which a new process inherits from its parent's
    # peak: a daemon that once held 2 GB would start every crawl "over" the limit.
    "crawler.memusage.OwnMemoryUsage": 0,
    "scrapy.extensions.memdebug.MemoryDebugger": 0,
    "scrapy.extensions.closespider.CloseSpider": 0,
    "scrapy.extensions.feedexport.FeedExporter": 0,
    "scrapy.extensions.logstats.LogStats": 0,
    "scrapy.extensions.spiderstate.SpiderState": 0,
    "scrapy.extensions.throttle.AutoThrottle": 0,
}

# nianbao's own settings (NIANBAO_*): their defaults come from the one declared table,
# crawler.options.SETTINGS (the CLI's -s and the runner override them per crawl).
globals().update(crawl_defaults())
